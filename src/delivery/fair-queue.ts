// Fair service for the worker's waiting lines (issue 12, ADR 6 amendments): a line that is FIFO
// across customers makes a small customer's message wait behind every message a flooding customer
// got there first. Here a freed slot goes to the waiting customer served least lately (a decayed
// count, like the dispatcher's fair share), so a small customer — or a small customer's campaign
// that starts while whales flood — is served before customers that have been busy for a while.

import { createUsage, type Usage } from '../domain/fair-share.ts'

/** Half-life of the recent-service counts (the dispatcher's fair share uses the same). */
export const SERVICE_HALF_LIFE_MS = 30_000

/**
 * FIFO queues per key. `shift` takes the oldest item of the waiting key served least lately by
 * this queue (ties in ring order: a key goes to the back after its turn, a key that was empty
 * joins at the back), and counts that service; `served` counts service the queue did not give
 * (an item that found a free slot and never waited). With no history this is plain round robin.
 * O(keys waiting) per shift.
 */
export class FairQueue<T> {
  // A Map iterates in insertion order: its first key is the one whose turn it is among equals.
  private readonly queues = new Map<string, T[]>()
  private count = 0

  constructor(
    private readonly recent: Usage = createUsage(SERVICE_HALF_LIFE_MS),
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.count
  }

  push(key: string, item: T): void {
    const q = this.queues.get(key)
    if (q) q.push(item)
    else this.queues.set(key, [item])
    this.count++
  }

  served(key: string): void {
    this.recent.add(key, 1, this.now())
  }

  shift(): T | undefined {
    let best: string | undefined
    let bestScore = Number.POSITIVE_INFINITY
    for (const key of this.queues.keys()) {
      const s = this.recent.score(key)
      if (s < bestScore) {
        best = key
        bestScore = s
        if (s === 0) break // nobody is below zero: the first unserved key in ring order
      }
    }
    if (best === undefined) return undefined
    const q = this.queues.get(best) as T[]
    const item = q.shift() as T
    this.queues.delete(best)
    if (q.length > 0) this.queues.set(best, q) // to the back of the ring
    this.count--
    this.served(best)
    return item
  }
}

export interface FairLimit {
  /** Runs `fn` once a slot is free (see createFairLimit for the order of waiters). */
  run<R>(key: string, fn: () => Promise<R>): Promise<R>
  readonly active: number
  readonly waiting: number
}

/**
 * A concurrency limit (as p-limit) whose waiting jobs are served by key, least lately served key
 * first (FairQueue), each key's jobs in arrival order. A customer with a few jobs goes before a
 * customer that has been flooding; a campaign that starts beside running floods takes the freed
 * slots until it has had about as much lately as they have; floods among themselves take turns.
 * Work-conserving: a flood alone gets every slot.
 */
export function createFairLimit(concurrency: number, recent?: Usage): FairLimit {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`)
  }
  const waiting = new FairQueue<() => void>(recent)
  let active = 0

  const finish = () => {
    const next = waiting.shift()
    if (next)
      next() // the slot passes straight on
    else active--
  }

  return {
    async run<R>(key: string, fn: () => Promise<R>): Promise<R> {
      if (active < concurrency) {
        active++
        waiting.served(key)
      } else {
        await new Promise<void>((start) => waiting.push(key, start))
      }
      try {
        return await fn()
      } finally {
        finish()
      }
    },
    get active() {
      return active
    },
    get waiting() {
      return waiting.size
    },
  }
}
