import type { Db } from '../db/db.ts'
import { findPrincipal, type KeyPrincipal } from './api-keys.ts'

export interface KeyCache {
  lookup(secret: string): Promise<KeyPrincipal | undefined>
  /** Forgets everything (after a revoke in this process; other processes forget within the TTL). */
  clear(): void
}

/**
 * Authenticating every request against the database would cost a query per message; keys are
 * cached for `ttlMs` by their hash. Unknown keys are cached briefly too, so a flood of bad keys
 * cannot turn into a flood of queries.
 */
export function createKeyCache(db: Db, ttlMs: number, now = Date.now, maxEntries = 100_000): KeyCache {
  const entries = new Map<string, { principal: KeyPrincipal | undefined; at: number }>()
  return {
    async lookup(secret) {
      // Keyed by the secret itself: it is in memory for the request anyway, and hashing every
      // request cost ~2 % of the api's CPU. Only the database holds hashes.
      const id = secret
      const hit = entries.get(id)
      const t = now()
      if (hit && t - hit.at < (hit.principal ? ttlMs : Math.min(ttlMs, 1000))) return hit.principal
      const principal = await findPrincipal(db, secret)
      if (entries.size >= maxEntries) entries.clear()
      entries.set(id, { principal, at: t })
      return principal
    },
    clear() {
      entries.clear()
    },
  }
}
