import type { FastifyReply } from 'fastify'
import type { KeyPrincipal } from '../../../accounts/api-keys.ts'
import type { RateLimiter } from '../../../limits/rate-limiter.ts'
import { ApiError } from '../../errors.ts'

/** Takes one send token for the customer; sets X-RateLimit-* and throws 429 when empty. */
export type SendLimiter = (p: KeyPrincipal, reply: FastifyReply) => Promise<void>

export function createSendLimiter(limiter: RateLimiter): SendLimiter {
  return async (p, reply) => {
    // One second of burst: a customer may send rate_limit_mps messages at once, then at that rate.
    const r = await limiter.take(p.customerId, p.rateLimitMps, p.rateLimitMps)
    const resetS = Math.ceil(r.resetMs / 1000)
    reply.header('x-ratelimit-limit', String(p.rateLimitMps))
    reply.header('x-ratelimit-remaining', String(r.remaining))
    reply.header('x-ratelimit-reset', String(resetS))
    if (!r.allowed) {
      throw new ApiError(
        429,
        'rate_limited',
        `Rate limit of ${p.rateLimitMps} messages per second exceeded`,
        undefined,
        { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) },
      )
    }
  }
}
