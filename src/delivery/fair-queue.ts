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

  /** The oldest item of `key`, leaving the ring's order as it is. */
  shiftKey(key: string): T | undefined {
    const q = this.queues.get(key)
    const item = q?.shift()
    if (item === undefined) return undefined
    if (q?.length === 0) this.queues.delete(key)
    this.count--
    return item
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
  /** Runs `fn` once a slot is free (see createFairLimit for the order of waiters). */
  run<R>(key: string, fn: () => Promise<R>): Promise<R>
  readonly active: number
  readonly waiting: number
}

/** A FIFO line with O(1) shift (an array with a moving head). */
class Line<T> {
  private items: T[] = []
  private head = 0
  get length() {
    return this.items.length - this.head
  }
  push(item: T) {
    this.items.push(item)
  }
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined
    const item = this.items[this.head++]
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
}

/**
 * A concurrency limit (as p-limit) with a bound per key. A key holds at most `perKey` admitted
 * jobs (running, or waiting in the FIFO line): within the bound jobs are served in arrival order,
 * so a customer with a few jobs waits behind the jobs that came before it — and behind at most
 * `perKey` of any one flooding customer. Jobs beyond a key's bound wait in the key's own queue;
 * one joins the line each time the key finishes a job and is back under its bound, and when the
 * line is empty they are served round robin by key (the limit stays work-conserving: a flood
 * alone gets every slot). Arrival order within a key is kept everywhere.
 */
export function createFairLimit(
  concurrency: number,
  perKey = Math.max(4, Math.ceil(concurrency / 8)),
): FairLimit {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`)
  }
  type Waiter = { key: string; start: () => void }
  const line = new Line<Waiter>()
  const over = new FairQueue<Waiter>()
  const admitted = new Map<string, number>()
  const admit = (key: string) => admitted.set(key, (admitted.get(key) ?? 0) + 1)
  let active = 0

  const finish = (key: string) => {
    const n = (admitted.get(key) ?? 1) - 1
    if (n === 0) admitted.delete(key)
    else admitted.set(key, n)
    if (n < perKey) {
      const w = over.shiftKey(key)
      if (w) {
        admit(key)
        line.push(w)
      }
    }
    let next = line.shift()
    if (!next) {
      next = over.shift()
      if (next) admit(next.key)
    }
    if (next)
      next.start() // the slot passes straight on
    else active--
  }

  return {
    async run<R>(key: string, fn: () => Promise<R>): Promise<R> {
      if (active < concurrency) {
        active++
        admit(key)
      } else if ((admitted.get(key) ?? 0) < perKey) {
        admit(key)
        await new Promise<void>((start) => line.push({ key, start }))
      } else {
        await new Promise<void>((start) => over.push(key, { key, start }))
      }
      try {
        return await fn()
      } finally {
        finish(key)
      }
    },
    get active() {
      return active
    },
    get waiting() {
      return line.length + over.size
    },
  }
}
