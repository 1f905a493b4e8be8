// One submit of a job to one carrier link, with the `deliveries` mark that must precede its write
// (ADR 0008, and its amendment of 2026-12-07 for a job's first try).

import type { SubmitRequest, SubmitResult } from '../carriers/carrier.ts'
import { isCarrierError } from '../carriers/errors.ts'
import type { Db } from '../db/db.ts'
import type { DeliveryJob } from '../domain/message.ts'
import type { Tracing } from '../observability/tracing.ts'
import type { CarrierLink } from './carrier-links.ts'
import type { Claimer } from './claimer.ts'
import { unmarkSubmitting } from './claims.ts'

/** Our claim was taken over (lease ran out while we waited): the other worker owns the message now. */
export class LostClaimError extends Error {}
/** A first try's claim, made with its mark, was not taken: nothing was written; the claim's answer says why. */
export class UnclaimedError extends Error {}

/** The claim a job's handler holds: its attempt once claimed (by a claim alone or by its first mark). */
export interface Held {
  attempt?: number
}

export interface SubmitOnceDeps {
  db: Db
  claimer: Claimer
  tracing: Tracing
  onSubmitted?: (carrier: string, ms: number) => void
}

export type SubmitOnce = (link: CarrierLink, job: DeliveryJob, held: Held) => Promise<SubmitResult>

/**
 * One submit to one link: its priority gate (otp before bulk), throttle and circuit; the
 * `submitting` mark committed as late as the carrier allows (after its window wait, right before
 * the write), so a crash leaves `submitting` only on messages that may have gone out. Without a
 * claim held (a first try) the mark is the claim too; a claim not taken abandons the write, unsent
 * (UnclaimedError; LostClaimError for a held claim taken over). Neither counts as a carrier
 * failure in the circuit: cockatiel lets through, uncounted, the errors its filter does not handle.
 */
export function createSubmitOnce(d: SubmitOnceDeps): SubmitOnce {
  return async (link, job, held) => {
    const release = await link.gate.acquire(job.priority, job.customer_id)
    const started = performance.now()
    const carrier = link.carrier
    const request: SubmitRequest = {
      messageId: job.id,
      to: job.to,
      from: job.from,
      body: job.body,
      encoding: job.encoding,
      parts: job.segments,
      validityPeriodS: Math.max(1, Math.floor((Date.parse(job.expires_at) - Date.now()) / 1000)),
      registeredDelivery: true,
    }
    const span = d.tracing.submitStarted(job, link.name)
    let marked: number | undefined
    const mark = async () => {
      const first = held.attempt === undefined
      marked = await d.claimer.mark(job, held.attempt)
      if (marked === undefined) throw first ? new UnclaimedError() : new LostClaimError()
      held.attempt = marked
    }
    const execution = link.breaker
      .execute(async () => {
        await link.throttle()
        if (!carrier.callsBeforeWrite) await mark()
        try {
          return await carrier.submit(request, carrier.callsBeforeWrite ? { beforeWrite: mark } : {})
        } catch (err) {
          // An answer from the carrier, or a submit that provably never left us, means it did not
          // take the message — unless it took some of its parts. Only this try's own mark is taken
          // back: an error before it (link down) leaves another worker's mark alone.
          if (
            marked !== undefined &&
            isCarrierError(err) &&
            (err.carrierStatus !== undefined || err.unsent) &&
            err.acceptedCarrierIds.length === 0
          )
            await unmarkSubmitting(d.db, job.id, marked)
          throw err
        }
      })
      .finally(release)
    const result = await span.around(execution)
    d.onSubmitted?.(link.name, performance.now() - started)
    return result
  }
}
