import type { FastifyReply } from 'fastify'
import type { KeyPrincipal } from '../../../accounts/api-keys.ts'
import type { RateLimiter } from '../../../limits/rate-limiter.ts'
import { takeOrRefuse } from '../../plugins/rate-limit.ts'

/** Takes one send token for the customer; sets X-RateLimit-* and throws 429 when empty. */
export type SendLimiter = (p: KeyPrincipal, reply: FastifyReply) => Promise<void>

export function createSendLimiter(limiter: RateLimiter): SendLimiter {
  return (p, reply) => takeOrRefuse(limiter, p.customerId, p.rateLimitMps, 'messages', reply)
}
