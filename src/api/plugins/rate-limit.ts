import type { FastifyReply } from 'fastify'
import type { RateLimiter } from '../../limits/rate-limiter.ts'
import { ApiError } from '../errors.ts'

/**
 * Takes one token from `key`'s bucket (one second of burst: `perSecond` at once, then at that
 * rate), sets X-RateLimit-* on the reply and throws 429 `rate_limited` with Retry-After when empty.
 */
export async function takeOrRefuse(
  limiter: RateLimiter,
  key: string,
  perSecond: number,
  what: string,
  reply: FastifyReply,
): Promise<void> {
  const r = await limiter.take(key, perSecond, perSecond)
  reply.header('x-ratelimit-limit', String(perSecond))
  reply.header('x-ratelimit-remaining', String(r.remaining))
  reply.header('x-ratelimit-reset', String(Math.ceil(r.resetMs / 1000)))
  if (!r.allowed) {
    throw new ApiError(
      429,
      'rate_limited',
      `Rate limit of ${perSecond} ${what} per second exceeded`,
      undefined,
      { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) },
    )
  }
}
