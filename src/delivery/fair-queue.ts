// Per-customer round robin for the worker's waiting lines (issue 12, ADR 6 amendment): a line that
// is FIFO across customers makes a small customer's message wait behind every message a flooding
// customer got there first; round robin makes it wait behind at most one of each other customer.

/**
 * FIFO queues per key, served round robin: each `shift` takes the oldest item of the key whose turn
 * it is, then that key goes to the back of the ring (if it still has items). A key that was empty
 * joins at the back. O(1) per operation.
 */
export class FairQueue<T> {
  // A Map iterates in insertion order: its first key is the one whose turn it is.
  private readonly queues = new Map<string, T[]>()
  private count = 0

  get size(): number {
    return this.count
  }

  push(key: string, item: T): void {
    const q = this.queues.get(key)
    if (q) q.push(item)
    else this.queues.set(key, [item])
    this.count++
  }

  shift(): T | undefined {
    for (const [key, q] of this.queues) {
      const item = q.shift()
      this.queues.delete(key)
      if (q.length > 0) this.queues.set(key, q) // to the back of the ring
      if (item === undefined) continue
      this.count--
      return item
    }
    return undefined
  }
}

export interface FairLimit {
  /** Runs `fn` once fewer than `concurrency` runs are active; waiters are served round robin by key. */
  run<R>(key: string, fn: () => Promise<R>): Promise<R>
  readonly active: number
  readonly waiting: number
}

/** A concurrency limit (as p-limit) whose waiters are served round robin across keys, FIFO within a key. */
export function createFairLimit(concurrency: number): FairLimit {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`)
  }
  const waiting = new FairQueue<() => void>()
  let active = 0
  const next = () => {
    const start = waiting.shift()
    if (start) start()
    else active--
  }
  return {
    async run<R>(key: string, fn: () => Promise<R>): Promise<R> {
      if (active < concurrency) active++
      else await new Promise<void>((resolve) => waiting.push(key, resolve)) // the slot passes straight on
      try {
        return await fn()
      } finally {
        next()
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
