// How many attempts one webhook target (an endpoint, or a customer's callbacks) may have in flight:
// adaptive per target, like TCP's congestion window (AIMD). A fixed limit either caps a busy
// endpoint at limit ÷ round trip webhooks a second (16 at 0.5 s: 32/s, while the busiest customer
// of the e2e bench produces a fifth of all events) or lets every slow endpoint hold many requests.
// A target starts at `initial`; while its answers come back fast and without a retryable failure
// the limit grows (doubling per round trip until the first sign of trouble, then one per round
// trip), up to `max`; a retryable failure (timeout, connection error, 5xx, 429) halves it, an
// answer slower than `slowMs` takes a quarter off, at most once per round trip. A hanging endpoint
// never answers, so it never grows past `initial` (ADR 0021).

export interface AdaptiveLimitOptions {
  /** Limit of a target not seen before (default 8). */
  initial?: number
  /** Largest limit of a target (default 64; its keep-alive pool has as many connections). */
  max?: number
  /** An answer slower than this is a sign of an overloaded endpoint, ms (default 2000). */
  slowMs?: number
  /** Targets remembered; the least recently used beyond it start again at `initial` (default 10 000). */
  maxTargets?: number
}

export interface AdaptiveLimits {
  /** The target's current limit. */
  limit(target: string): number
  /** An attempt of the target ended: `ok` when the endpoint answered without a retryable failure. */
  record(target: string, ok: boolean, latencyMs: number): void
  readonly initial: number
  readonly max: number
}

interface TargetLimit {
  limit: number
  /** Growth phase: doubling per round trip until the first decrease. */
  slowStart: boolean
  /** Completions since the last change (a round trip's worth = the limit). */
  done: number
  /** Completions to wait before another decrease (the attempts started under the old limit). */
  holdOff: number
}

export const DEFAULT_INITIAL_LIMIT = 8
export const DEFAULT_MAX_LIMIT = 64

export function createAdaptiveLimits(opts: AdaptiveLimitOptions = {}): AdaptiveLimits {
  const max = Math.max(1, opts.max ?? DEFAULT_MAX_LIMIT)
  const initial = Math.min(max, Math.max(1, opts.initial ?? DEFAULT_INITIAL_LIMIT))
  const slowMs = opts.slowMs ?? 2000
  const maxTargets = opts.maxTargets ?? 10_000
  const targets = new Map<string, TargetLimit>()

  const state = (target: string): TargetLimit => {
    let s = targets.get(target)
    if (s) {
      // Map order is insertion order: re-inserting marks it recently used.
      targets.delete(target)
    } else {
      s = { limit: initial, slowStart: true, done: 0, holdOff: 0 }
      if (targets.size >= maxTargets) targets.delete(targets.keys().next().value as string)
    }
    targets.set(target, s)
    return s
  }

  return {
    initial,
    max,
    limit: (target) => targets.get(target)?.limit ?? initial,
    record(target, ok, latencyMs) {
      const s = state(target)
      if (s.holdOff > 0) s.holdOff--
      const congested = !ok || latencyMs > slowMs
      if (congested) {
        if (s.holdOff > 0) return
        s.slowStart = false
        s.limit = Math.max(1, Math.floor(ok ? s.limit * 0.75 : s.limit / 2))
        s.done = 0
        // What was started under the old limit answers under the same trouble: one decrease for it.
        s.holdOff = s.limit
        return
      }
      if (s.limit >= max) return
      if (s.slowStart) {
        s.limit = Math.min(max, s.limit + 1)
        return
      }
      if (++s.done >= s.limit) {
        s.done = 0
        s.limit = Math.min(max, s.limit + 1)
      }
    },
  }
}
