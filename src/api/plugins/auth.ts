import { createHash, timingSafeEqual } from 'node:crypto'
import type { BlockList } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { allowListHas, compileAllowList } from '../../accounts/allowed-ips.ts'
import type { KeyPrincipal } from '../../accounts/api-keys.ts'
import { type KeyCache, looksLikeApiKey } from '../../accounts/key-cache.ts'
import type { RateLimiter } from '../../limits/rate-limiter.ts'
import { ApiError } from '../errors.ts'
import { takeOrRefuse } from './rate-limit.ts'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: KeyPrincipal
  }
}

const sha = (s: string) => createHash('sha256').update(s).digest()

function bearer(request: FastifyRequest): string {
  const h = request.headers.authorization
  const m = typeof h === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(h) : null
  if (!m?.[1])
    throw new ApiError(401, 'unauthenticated', 'Missing or malformed Authorization: Bearer <key> header')
  return m[1]
}

/** Allow-lists are compiled once per list object (principals, and so their lists, are cached). */
function ipAllowed(allowLists: WeakMap<string[], BlockList>, entries: string[] | null, ip: string): boolean {
  if (!entries || entries.length === 0) return true
  let list = allowLists.get(entries)
  if (!list) {
    list = compileAllowList(entries)
    allowLists.set(entries, list)
  }
  return allowListHas(list, ip)
}

export interface Authenticator {
  /** onRequest hook of customer routes: the key, its IP allow-list, and the read budget on GETs. */
  customer(request: FastifyRequest, reply: FastifyReply): Promise<void>
  admin(request: FastifyRequest): Promise<void>
  /** preHandler of configuration routes (webhooks): the write budget on anything but GET/HEAD. */
  writes(request: FastifyRequest, reply: FastifyReply): Promise<void>
}

export interface AuthOptions {
  adminToken: string
  keys: KeyCache
  /** Per-customer budget of GET requests, apart from the send rate. */
  reads: { limiter: RateLimiter; perSecond: number }
  /** Per-customer budget of configuration writes (webhook endpoints, redeliveries). */
  writes: { limiter: RateLimiter; perSecond: number }
}

const READS = new Set(['GET', 'HEAD'])

export function createAuthenticator({ adminToken, keys, reads, writes }: AuthOptions): Authenticator {
  const adminHash = sha(adminToken)
  const isAdmin = (token: string) => timingSafeEqual(sha(token), adminHash)
  const allowLists = new WeakMap<string[], BlockList>()
  // A token that is not shaped like a key is refused without a cache entry or a query.
  const lookup = (token: string) => (looksLikeApiKey(token) ? keys.lookup(token) : undefined)
  return {
    async customer(request, reply) {
      const token = bearer(request)
      const principal = await lookup(token)
      if (!principal) {
        if (isAdmin(token))
          throw new ApiError(403, 'forbidden', 'The admin token cannot be used on customer endpoints')
        throw new ApiError(401, 'unauthenticated', 'Invalid or revoked API key')
      }
      if (principal.suspended) throw new ApiError(403, 'forbidden', 'This account is suspended')
      if (
        !ipAllowed(allowLists, principal.allowedIps, request.ip) ||
        !ipAllowed(allowLists, principal.customerAllowedIps, request.ip)
      ) {
        throw new ApiError(403, 'ip_not_allowed', 'This API key is not allowed from this IP address')
      }
      request.principal = principal
      if (READS.has(request.method)) {
        await takeOrRefuse(reads.limiter, `read:${principal.customerId}`, reads.perSecond, 'reads', reply)
      }
    },
    async writes(request, reply) {
      if (READS.has(request.method)) return
      const customerId = principalOf(request).customerId
      await takeOrRefuse(writes.limiter, `write:${customerId}`, writes.perSecond, 'writes', reply)
    },
    async admin(request) {
      const token = bearer(request)
      if (isAdmin(token)) return
      if (await lookup(token))
        throw new ApiError(403, 'forbidden', 'Customer API keys cannot use admin endpoints')
      throw new ApiError(401, 'unauthenticated', 'Invalid admin token')
    },
  }
}

/** The authenticated customer of a request behind the customer hook. */
export function principalOf(request: FastifyRequest): KeyPrincipal {
  if (!request.principal) throw new ApiError(401, 'unauthenticated', 'Not authenticated')
  return request.principal
}
