// Fair service for the worker's waiting lines (issue 12, ADR 6 amendments): a line that is FIFO
// across customers makes a small customer's message wait behind every message a flooding customer
// got there first. Here a freed slot goes to the waiting customer served least lately (a decayed
// count, like the dispatcher's fair share), so a small customer — or a small customer's campaign
// that starts while whales flood — is served before customers that have been busy for a while.

/** Half-life of the recent-service counts (the dispatcher's fair share uses the same). */
export const SERVICE_HALF_LIFE_MS = 30_000

/**
 * Decayed counts of service per key, kept scaled so that comparing two keys costs no decay: each
 * unit of service adds 2^((t − t0) / halfLife), and all counts share the factor 2^(−(now − t0) /
 * halfLife), which does not change their order. Rescaled (and keys served long ago forgotten) when
 * that factor grows large.
 */
export class RecentService {
  private readonly counts = new Map<string, number>()
  private t0: number
  private pruneAt = 10_000

  constructor(
    private readonly halfLifeMs = SERVICE_HALF_LIFE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.t0 = now()
  }

  /** The key's count in scaled units: lower means served less lately. */
  score(key: string): number {
    return this.counts.get(key) ?? 0
  }

  /** One unit of service to `key`, now. */
  note(key: string): void {
    let unit = 2 ** ((this.now() - this.t0) / this.halfLifeMs)
    if (unit > 2 ** 40) {
      this.rescale(unit)
      unit = 1
    }
    this.counts.set(key, (this.counts.get(key) ?? 0) + unit)
    if (this.counts.size > this.pruneAt) {
      // A key whose decayed count is under one unit has no history worth keeping.
      for (const [k, v] of this.counts) if (v < unit) this.counts.delete(k)
      this.pruneAt = Math.max(10_000, 2 * this.counts.size)
    }
  }

  private rescale(factor: number) {
    for (const [k, v] of this.counts) {
      const scaled = v / factor
      if (scaled < 1e-3) this.counts.delete(k)
      else this.counts.set(k, scaled)
    }
    this.t0 = this.now()
  }
}

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

  constructor(private readonly recent: RecentService = new RecentService()) {}

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
    this.recent.note(key)
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
    this.recent.note(best)
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
export function createFairLimit(concurrency: number, recent?: RecentService): FairLimit {
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
