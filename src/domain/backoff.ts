export interface BackoffOptions {
  /** First delay, ms. Default 500. */
  initialMs?: number
  /** Ceiling, ms. Default 30 000. */
  maxMs?: number
  /** Randomize to half..full of the delay so many clients do not reconnect in lockstep. Default true. */
  jitter?: boolean
}

/** Exponential backoff: attempt 1 waits initialMs, each further attempt doubles, capped at maxMs. */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = opts.initialMs ?? 500
  const max = opts.maxMs ?? 30_000
  const base = Math.min(max, initial * 2 ** Math.max(0, Math.min(attempt - 1, 30)))
  return opts.jitter === false ? base : Math.round(base / 2 + (random() * base) / 2)
}
