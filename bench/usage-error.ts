// Bad command lines exit with status 2 and the usage text, not a stack trace.
export class UsageError extends Error {
  override name = 'UsageError'
}
