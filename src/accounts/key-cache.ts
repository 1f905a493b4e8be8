import type { Db } from '../db/db.ts'
import { createLru } from '../domain/lru.ts'
import { findPrincipal, type KeyPrincipal } from './api-keys.ts'

export interface KeyCache {
  /** The principal of a key, from the cache or (one query per key at a time) the database. */
  lookup(secret: string): Promise<KeyPrincipal | undefined>
  /** Forgets one key (it was revoked); other keys stay cached. */
  evictKey(keyId: string): void
  /** Forgets every key of one customer (its rate limit, allowed IPs or status changed). */
  evictCustomer(customerId: string): void
  /** Forgets everything. */
  clear(): void
  /** Entries held: valid keys and remembered unknown tokens (bounded separately). */
  size(): { valid: number; unknown: number }
}

export interface KeyCacheOptions {
  /** How long a valid key is trusted before it is read again, ms. */
  ttlMs: number
  /** How long an unknown token is remembered, ms (default min(ttlMs, 1000)). */
  negativeTtlMs?: number
  /** Valid keys held at most, least recently used dropped first (default 100 000). */
  maxKeys?: number
  /** Unknown tokens held at most, apart from the valid keys (default 10 000). */
  maxUnknown?: number
  now?: () => number
}

/**
 * Authenticating every request against the database would cost a query per message, so keys are
 * cached (ADR 0003). Valid keys and unknown tokens live in two bounded LRUs: a flood of random
 * tokens can only push out other random tokens, never the keys of real customers. Concurrent
 * lookups of one uncached key share one query (single flight).
 */
export function createKeyCache(db: Db, opts: KeyCacheOptions): KeyCache {
  const now = opts.now ?? Date.now
  const ttlMs = opts.ttlMs
  const negativeTtlMs = opts.negativeTtlMs ?? Math.min(ttlMs, 1000)
  // Keyed by the secret itself: it is in memory for the request anyway, and hashing every
  // request cost ~2 % of the api's CPU. Only the database holds hashes.
  const valid = createLru<string, { principal: KeyPrincipal; at: number }>(opts.maxKeys ?? 100_000)
  const unknown = createLru<string, number>(opts.maxUnknown ?? 10_000)
  const inFlight = new Map<string, Promise<KeyPrincipal | undefined>>()
  // Bumped by every eviction: a lookup that started before one must not cache what it read.
  let generation = 0

  const fetch = async (secret: string): Promise<KeyPrincipal | undefined> => {
    const started = generation
    try {
      const principal = await findPrincipal(db, secret)
      if (started === generation) {
        if (principal) valid.set(secret, { principal, at: now() })
        else unknown.set(secret, now())
      }
      return principal
    } finally {
      inFlight.delete(secret)
    }
  }

  const evictWhere = (match: (p: KeyPrincipal) => boolean) => {
    generation++
    const gone = [...valid.entries()].filter(([, e]) => match(e.principal)).map(([secret]) => secret)
    for (const secret of gone) valid.delete(secret)
  }

  return {
    lookup(secret) {
      const t = now()
      const hit = valid.get(secret)
      if (hit) {
        if (t - hit.at < ttlMs) return Promise.resolve(hit.principal)
        valid.delete(secret)
      }
      const missAt = unknown.get(secret)
      if (missAt !== undefined) {
        if (t - missAt < negativeTtlMs) return Promise.resolve(undefined)
        unknown.delete(secret)
      }
      let pending = inFlight.get(secret)
      if (!pending) {
        pending = fetch(secret)
        inFlight.set(secret, pending)
      }
      return pending
    },
    evictKey(keyId) {
      evictWhere((p) => p.keyId === keyId)
    },
    evictCustomer(customerId) {
      evictWhere((p) => p.customerId === customerId)
    },
    clear() {
      generation++
      valid.clear()
      unknown.clear()
    },
    size: () => ({ valid: valid.size, unknown: unknown.size }),
  }
}

/** The shape of generateSecret()'s keys: `sk_` and 32 bytes in base64url (43 characters). */
const KEY_SHAPE = /^sk_[A-Za-z0-9_-]{43}$/

/** True when token could be an API key; anything else is refused before any database work. */
export const looksLikeApiKey = (token: string): boolean => KEY_SHAPE.test(token)
