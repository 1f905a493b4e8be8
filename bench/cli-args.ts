// Command-line pieces shared by the benchmarks' option parsers.
import { UsageError } from './usage-error.ts'

/** Runs node's parseArgs (or any parser) and turns its complaints into a UsageError (exit 2 + usage). */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** `--target` without trailing slashes, checked to be a URL, and requiring `--admin-token`; null when absent. */
export function targetOption(
  raw: string | undefined,
  adminToken: string | undefined,
  needsToken: boolean,
): string | null {
  if (!raw) return null
  const target = raw.replace(/\/+$/, '')
  try {
    new URL(target)
  } catch {
    throw new UsageError(`--target must be a URL like http://127.0.0.1:3000, got '${raw}'`)
  }
  if (needsToken && !adminToken)
    throw new UsageError('--target needs --admin-token to create the benchmark tenants')
  return target
}
