import { createUsage } from '../domain/fair-share.ts'
import { PRIORITIES, type Priority } from '../domain/message.ts'
import { FairQueue, SERVICE_HALF_LIFE_MS } from './fair-queue.ts'

export interface PriorityGate {
  /**
   * Resolves with a release function once a slot is free; waiting otp goes before high, normal,
   * bulk, and within a priority the waiting customer served least lately by this gate goes first
   * (oldest first within a customer).
   */
  acquire(priority: Priority, customer?: string): Promise<() => void>
  readonly inUse: number
  readonly waiting: number
}

/**
 * A semaphore whose waiters are served by priority, then by customer, least lately served first
 * (FairQueue: a campaign starting beside floods is served before them until it has had as much
 * lately; floods among themselves take turns). In front of
 * each provider it keeps the lanes' handlers from queueing FIFO for the carrier's window, where an
 * otp message would wait behind every bulk message that reached the provider first, and a small
 * customer's message behind every message of a customer flooding the same lane.
 */
export function createPriorityGate(capacity: number): PriorityGate {
  // One count of service per customer across priorities: what the carrier gave a customer lately.
  const recent = createUsage(SERVICE_HALF_LIFE_MS)
  const queues = new Map<Priority, FairQueue<() => void>>(
    PRIORITIES.map((p) => [p, new FairQueue<() => void>(recent)]),
  )
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
        recent.add(customer, 1, performance.now()) // a slot given at once is service too
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
