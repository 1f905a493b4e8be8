import { PRIORITIES, type Priority } from '../domain/message.ts'
import { FairQueue } from './fair-queue.ts'

export interface PriorityGate {
  /**
   * Resolves with a release function once a slot is free; waiting otp goes before high, normal,
   * bulk, and within a priority the waiting customers take turns (oldest first within a customer).
   */
  acquire(priority: Priority, customer?: string): Promise<() => void>
  readonly inUse: number
  readonly waiting: number
}

/**
 * A semaphore whose waiters are served by priority, then round robin across customers. In front of
 * each provider it keeps the lanes' handlers from queueing FIFO for the carrier's window, where an
 * otp message would wait behind every bulk message that reached the provider first, and a small
 * customer's message behind every message of a customer flooding the same lane.
 */
export function createPriorityGate(capacity: number): PriorityGate {
  const queues = new Map<Priority, FairQueue<() => void>>(PRIORITIES.map((p) => [p, new FairQueue()]))
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
    acquire(priority, customer = '') {
      if (inUse < capacity) {
        inUse++
        return Promise.resolve(once())
      }
      return new Promise((resolve) => queues.get(priority)?.push(customer, () => resolve(once())))
    },
    get inUse() {
      return inUse
    },
    get waiting() {
      let n = 0
      for (const q of queues.values()) n += q.size
      return n
    },
  }
}
