// What the accept path needs to screen a send, per customer, in memory: its opted-out numbers and
// the numbers it may send from. Loaded lazily on the customer's first send, changed in place when
// an opt-out is added or removed (here, or in another process over the bus: shared-cache.ts),
// and re-read in the background after `ttlMs` as a safety net for a lost broadcast.

import type { Queryable } from '../db/db.ts'
import { createLru } from '../domain/lru.ts'
import { senderNumbersOf } from './numbers-repository.ts'
import { activeOptOuts } from './opt-outs-repository.ts'

export interface ComplianceEntry {
  /** The active opt-outs, or null when the list is longer than `maxOptOuts` (then probed per send). */
  optOuts: Set<string> | null
  /** Numbers (E.164 or short codes) the customer may send from. */
  senders: Set<string>
}

export interface ComplianceCache {
  /** The customer's entry: cached, or (one load per customer at a time) read from the database. */
  get(customerId: string): Promise<ComplianceEntry>
  /** An opt-out was added (active) or ended: applied in place where the customer is cached. */
  optOutChanged(customerId: string, phone: string, active: boolean): void
  /** The customer's numbers changed: its entry is read again on next use. */
  numbersChanged(customerId: string): void
  clear(): void
  size(): number
}

export interface ComplianceCacheOptions {
  /** Re-read an entry in the background after this long, ms (default 30 000). */
  ttlMs?: number
  /** Customers held at most (default 10 000). */
  maxCustomers?: number
  /** A list longer than this is not held in memory: each send probes the index (default 1 000 000). */
  maxOptOuts?: number
  now?: () => number
}

interface Slot {
  entry: ComplianceEntry
  at: number
  refreshing: boolean
}

export function createComplianceCache(db: Queryable, opts: ComplianceCacheOptions = {}): ComplianceCache {
  const ttlMs = opts.ttlMs ?? 30_000
  const maxOptOuts = opts.maxOptOuts ?? 1_000_000
  const now = opts.now ?? Date.now
  const slots = createLru<string, Slot>(opts.maxCustomers ?? 10_000)
  const loading = new Map<string, Promise<ComplianceEntry>>()
  // Bumped per customer by every change: a load that started before one must not be cached.
  const generations = new Map<string, number>()
  const gen = (c: string) => generations.get(c) ?? 0

  async function load(customerId: string): Promise<ComplianceEntry> {
    const started = gen(customerId)
    const [optOuts, senders] = await Promise.all([
      activeOptOuts(db, customerId, maxOptOuts),
      senderNumbersOf(db, customerId),
    ])
    const entry: ComplianceEntry = {
      optOuts: optOuts === undefined ? null : new Set(optOuts),
      senders: new Set(senders),
    }
    if (started === gen(customerId)) slots.set(customerId, { entry, at: now(), refreshing: false })
    else slots.delete(customerId)
    return entry
  }

  function fetch(customerId: string): Promise<ComplianceEntry> {
    let p = loading.get(customerId)
    if (!p) {
      p = load(customerId).finally(() => loading.delete(customerId))
      loading.set(customerId, p)
    }
    return p
  }

  const bump = (customerId: string) => generations.set(customerId, gen(customerId) + 1)

  return {
    get(customerId) {
      const slot = slots.get(customerId)
      if (!slot) return fetch(customerId)
      if (now() - slot.at >= ttlMs && !slot.refreshing) {
        // Stale-while-revalidate: the send never waits for the re-read.
        slot.refreshing = true
        fetch(customerId).catch(() => {
          slot.refreshing = false
        })
      }
      return Promise.resolve(slot.entry)
    },
    optOutChanged(customerId, phone, active) {
      bump(customerId)
      const slot = slots.get(customerId)
      if (!slot) return
      const set = slot.entry.optOuts
      if (set === null) return
      if (active) set.add(phone)
      else set.delete(phone)
    },
    numbersChanged(customerId) {
      bump(customerId)
      slots.delete(customerId)
    },
    clear() {
      for (const c of [...slots.entries()].map(([k]) => k)) bump(c)
      slots.clear()
    },
    size: () => slots.size,
  }
}
