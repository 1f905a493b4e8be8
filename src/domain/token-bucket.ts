export interface Bucket {
  tokens: number
  updatedAt: number
}

export interface TakeResult {
  allowed: boolean
  remaining: number
  retryAfterMs: number
  resetMs: number
}

const EPSILON = 1e-9

export function takeToken(
  bucket: Bucket | undefined,
  now: number,
  ratePerSec: number,
  burst: number,
): { bucket: Bucket; result: TakeResult } {
  if (!(ratePerSec > 0 && Number.isFinite(ratePerSec))) throw new RangeError(`invalid rate: ${ratePerSec}`)
  if (!(burst >= 1 && Number.isFinite(burst))) throw new RangeError(`invalid burst: ${burst}`)
  if (!Number.isFinite(now)) throw new RangeError(`invalid time: ${now}`)

  const perMs = ratePerSec / 1000
  let tokens = burst
  let updatedAt = now
  if (bucket !== undefined) {
    // A clock stepping backwards must not move updatedAt back, or the same interval would refill twice.
    const elapsed = Math.max(0, now - bucket.updatedAt)
    tokens = Math.min(burst, bucket.tokens + (elapsed * ratePerSec) / 1000)
    // Floating point can leave a refill a hair short of a whole token or of full; snap it.
    if (burst - tokens < EPSILON) tokens = burst
    updatedAt = Math.max(now, bucket.updatedAt)
  }

  const allowed = tokens >= 1 - EPSILON
  if (allowed) tokens = Math.max(0, tokens - 1)
  const retryAfterMs = allowed ? 0 : Math.ceil((1 - tokens) / perMs)
  const resetMs = Math.ceil((burst - tokens) / perMs)
  return {
    bucket: { tokens, updatedAt },
    result: { allowed, remaining: Math.floor(tokens + EPSILON), retryAfterMs, resetMs },
  }
}
