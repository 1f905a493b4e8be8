import type { DeliveryJob, NewMessage } from '../domain/message.ts'
import { jobOfMessage } from './delivery-job.ts'

/** Default most jobs held: a few seconds of peak accepts, ~25 MB at 500 bytes a job. */
export const HANDOFF_CAPACITY = 50_000

/**
 * Jobs the accept path of this process handed over right after its commit, by message id, so
 * the dispatcher need not read `messages` to rebuild them. Only a cache: what to release is
 * still decided from the outbox, and a job that is not here (dropped when full, accepted by
 * another process, lost in a restart) is read from `messages` as before.
 */
export interface Handoff {
  /** Keeps the jobs of messages whose accept committed; the oldest are dropped past capacity. */
  put(messages: readonly NewMessage[]): void
  get(messageId: string): DeliveryJob | undefined
  /** Forgets released messages (after the release committed). */
  remove(messageIds: readonly string[]): void
  readonly size: number
}

export function createHandoff(capacity = HANDOFF_CAPACITY): Handoff {
  // A Map iterates in insertion order: its first key is the oldest entry.
  const jobs = new Map<string, DeliveryJob>()
  return {
    put(messages) {
      for (const m of messages) {
        // A scheduled message waits in the outbox for hours: it would only crowd out due ones.
        if (m.sendAt || capacity <= 0) continue
        let job: DeliveryJob
        try {
          job = jobOfMessage(m)
        } catch {
          // Called after the accept committed, so it must not fail the accept: a job that cannot
          // be built here is read from `messages` at release, where a bad row is reported.
          continue
        }
        jobs.set(m.id, job)
        if (jobs.size > capacity) jobs.delete(jobs.keys().next().value as string)
      }
    },
    get: (id) => jobs.get(id),
    remove(ids) {
      for (const id of ids) jobs.delete(id)
    },
    get size() {
      return jobs.size
    },
  }
}
