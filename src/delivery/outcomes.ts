// How a delivery job ends when it does not end `sent`: dead letters with a final status (refunded
// when no carrier took the message), `unknown` when a carrier may have it, and the redeliveries a
// claim turned away.

import type { Bus } from '../bus/bus.ts'
import { deadLetterMsgId, deadLetterSubject } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import type { DeliveryJob, Priority } from '../domain/message.ts'
import type { StatusWriter } from '../events/status-writer.ts'
import { type ClaimResult, markFinal } from './claims.ts'

export interface OutcomeDeps {
  db: Db
  bus: Bus
  statuses: StatusWriter
  /** Records carrier ids a carrier gave for some parts (their receipts can then match). */
  recordParts: (job: DeliveryJob, carrier: string, carrierIds: string[]) => Promise<void>
  onDeadLetter?: (lane: Priority, status: string) => void
}

export interface Outcomes {
  /** failed / rejected / expired: dead-lettered (expired is not) and refunded unless a carrier took parts. */
  finish(
    job: DeliveryJob,
    status: 'failed' | 'rejected' | 'expired',
    reason: string,
    partial?: { carrier: string; parts: number },
  ): Promise<void>
  /** The submit was written and never answered: the carrier may have it, so it ends `unknown`, charged. */
  unconfirmed(job: DeliveryJob, carrier: string, why: string, takenIds: string[]): Promise<void>
  /** A carrier took some parts, then failed the rest: never resent (duplicate parts), failed, not refunded. */
  partlyTaken(job: DeliveryJob, carrier: string, takenIds: string[], why: string): Promise<void>
  /** A job the claim did not hand us (ambiguous or done); 'busy' is for the caller to retry later. */
  unclaimed(job: DeliveryJob, claim: Exclude<ClaimResult, { kind: 'claimed' | 'busy' }>): Promise<void>
}

export function createOutcomes(d: OutcomeDeps): Outcomes {
  const write = (
    job: DeliveryJob,
    change: Omit<Parameters<StatusWriter['write']>[0], 'messageId' | 'createdAt'>,
  ) => d.statuses.write({ messageId: job.id, createdAt: job.created_at, ...change })

  const finish: Outcomes['finish'] = async (job, status, reason, partial) => {
    if (status !== 'expired') {
      await d.bus.publish(
        deadLetterSubject(job.priority),
        { job, status, reason },
        { msgId: deadLetterMsgId(job.id) },
      )
      d.onDeadLetter?.(job.priority, status)
    }
    await write(job, {
      status,
      unsent: !partial,
      detail: partial ? { reason, carrier: partial.carrier, parts_accepted: partial.parts } : { reason },
    })
    await markFinal(d.db, job.id)
  }

  return {
    finish,
    async unconfirmed(job, carrier, why, takenIds) {
      if (takenIds.length > 0) await d.recordParts(job, carrier, takenIds)
      await write(job, {
        status: 'unknown',
        detail: {
          reason: `${carrier}: ${why}; the carrier may have the message, so it is not sent again`,
          carrier,
        },
      })
      await markFinal(d.db, job.id)
    },
    async partlyTaken(job, carrier, takenIds, why) {
      await d.recordParts(job, carrier, takenIds)
      const reason = `${carrier} took ${takenIds.length} of ${job.segments} parts, then: ${why}`
      await finish(job, 'failed', reason, { carrier, parts: takenIds.length })
    },
    async unclaimed(job, claim) {
      if (claim.kind === 'ambiguous') {
        // Not refunded: the carrier may have delivered it.
        await write(job, {
          status: 'unknown',
          detail: {
            reason:
              'a worker stopped while submitting; the carrier may have the message, so it is not sent again',
          },
        })
      } else if (claim.submitted) {
        // A worker died after the carrier took the message but before its `sent` was written.
        await write(job, { status: 'sent' })
      }
    },
  }
}
