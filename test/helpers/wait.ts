/** The one wait helper of the tests: poll a condition (sync or async) until it yields a value or the deadline passes. */

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Resolves with the first truthy value `probe` returns; rejects naming `what` after `timeoutMs`.
 * Tests wait on a condition with a deadline, never sleep to "let it settle".
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 5000,
  intervalMs = 5,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await tick(intervalMs)
  }
}
