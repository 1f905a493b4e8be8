import { createHash, timingSafeEqual } from 'node:crypto'
import type { BlockList } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { allowListHas, compileAllowList } from '../../accounts/allowed-ips.ts'
import type { KeyPrincipal } from '../../accounts/api-keys.ts'
import type { KeyCache } from '../../accounts/key-cache.ts'
import { ApiError } from '../errors.ts'

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
  customer(request: FastifyRequest): Promise<void>
  admin(request: FastifyRequest): Promise<void>
}

export function createAuthenticator(adminToken: string, keys: KeyCache): Authenticator {
  const adminHash = sha(adminToken)
  const isAdmin = (token: string) => timingSafeEqual(sha(token), adminHash)
  const allowLists = new WeakMap<string[], BlockList>()
  return {
    async customer(request) {
      const token = bearer(request)
      const principal = await keys.lookup(token)
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
    },
    async admin(request) {
      const token = bearer(request)
      if (isAdmin(token)) return
      if (await keys.lookup(token))
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
