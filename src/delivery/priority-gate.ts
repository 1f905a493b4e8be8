import { PRIORITIES, type Priority } from '../domain/message.ts'

export interface PriorityGate {
  /** Resolves with a release function once a slot is free; waiting otp goes before high, normal, bulk. */
  acquire(priority: Priority): Promise<() => void>
  readonly inUse: number
  readonly waiting: number
}

/**
 * A semaphore whose waiters are served by priority, then arrival. In front of each provider it
 * keeps the lanes' handlers from queueing FIFO for the carrier's window, where an otp message
 * would wait behind every bulk message that reached the provider first.
 */
export function createPriorityGate(capacity: number): PriorityGate {
  const queues = new Map<Priority, (() => void)[]>(PRIORITIES.map((p) => [p, []]))
  let inUse = 0
  const release = () => {
    for (const p of PRIORITIES) {
      const next = queues.get(p)?.shift()
      if (next) return next() // the slot passes straight on
    }
    inUse--
  }
  const once = () => {
    let done = false
    return () => {
      if (done) return
      done = true
      release()
    }
  }
  return {
    acquire(priority) {
      if (inUse < capacity) {
        inUse++
        return Promise.resolve(once())
      }
      return new Promise((resolve) => queues.get(priority)?.push(() => resolve(once())))
    },
    get inUse() {
      return inUse
    },
    get waiting() {
      let n = 0
      for (const q of queues.values()) n += q.length
      return n
    },
  }
}
