import type { Queryable } from '../db/db.ts'
import type { DeliveryJob } from '../dispatch/lanes.ts'

export type ClaimResult =
  | { kind: 'claimed'; attempt: number }
  /** Already submitted or final: a redelivery; do not send again. */
  | { kind: 'done'; submitted: boolean }
  /** Another worker holds a live lease; look again after retryInMs. */
  | { kind: 'busy'; retryInMs: number }
  /** A worker died while its submit was on the way: the carrier may have it, so never send again. */
  | { kind: 'ambiguous' }

/**
 * The de-dup gate before any carrier submit: a worker may submit a message only while it holds
 * its claim. A claim whose lease ran out (its worker died) can be taken over; a submitted or
 * final message is never claimed again, so bus redeliveries never reach a carrier twice.
 */
export async function claimDelivery(q: Queryable, job: DeliveryJob, leaseMs: number): Promise<ClaimResult> {
  const { rows } = await q.query<{ attempts: number }>(
    `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until)
     VALUES ($1, $2, $3, 'claimed', 1, now() + $4 * interval '1 millisecond')
     ON CONFLICT (message_id) DO UPDATE
       SET attempts = deliveries.attempts + 1, lease_until = EXCLUDED.lease_until, updated_at = now()
       WHERE deliveries.state = 'claimed' AND deliveries.lease_until < now()
     RETURNING attempts`,
    [job.id, job.created_at, job.customer_id, leaseMs],
  )
  if (rows[0]) return { kind: 'claimed', attempt: Number(rows[0].attempts) }
  const { rows: existing } = await q.query<{ state: string; wait_ms: number }>(
    `SELECT state, greatest(0, extract(epoch FROM lease_until - now()) * 1000)::int AS wait_ms
       FROM deliveries WHERE message_id = $1`,
    [job.id],
  )
  const e = existing[0]
  if (e?.state === 'submitting' && Number(e.wait_ms) === 0) {
    const { rowCount } = await q.query(
      `UPDATE deliveries SET state = 'final', updated_at = now()
        WHERE message_id = $1 AND state = 'submitting' AND lease_until < now()`,
      [job.id],
    )
    if (rowCount > 0) return { kind: 'ambiguous' }
  }
  if (e?.state !== 'claimed' && e?.state !== 'submitting')
    return { kind: 'done', submitted: e?.state === 'submitted' }
  return { kind: 'busy', retryInMs: Math.max(100, Number(e.wait_ms)) }
}

/**
 * Marks claims as on their way to a carrier; returns the ids still held (each may then be sent).
 * Only its own worker moves a claim out of 'submitting' (or a takeover after a crash, to 'final').
 */
export async function markSubmitting(q: Queryable, messageIds: string[]): Promise<Set<string>> {
  const { rows } = await q.query<{ message_id: string }>(
    `UPDATE deliveries SET state = 'submitting', updated_at = now()
      WHERE message_id = ANY($1::uuid[]) AND state IN ('claimed', 'submitting') RETURNING message_id`,
    [messageIds],
  )
  return new Set(rows.map((r) => r.message_id))
}

/** The carrier answered with an error: the message was not taken, so it may be sent again. */
export async function unmarkSubmitting(q: Queryable, messageId: string): Promise<void> {
  await q.query(
    `UPDATE deliveries SET state = 'claimed', updated_at = now() WHERE message_id = $1 AND state = 'submitting'`,
    [messageId],
  )
}

/** Extends a claim while retries go on. */
export async function extendLease(q: Queryable, messageId: string, leaseMs: number): Promise<void> {
  await q.query(
    `UPDATE deliveries SET lease_until = now() + $2 * interval '1 millisecond', updated_at = now()
      WHERE message_id = $1 AND state IN ('claimed', 'submitting')`,
    [messageId, leaseMs],
  )
}

/** Records the carrier's acceptance and its part ids (for receipts) in one statement. */
export async function markSubmitted(
  q: Queryable,
  job: DeliveryJob,
  carrier: string,
  carrierIds: string[],
): Promise<void> {
  await q.query(
    `WITH d AS (
       UPDATE deliveries SET state = 'submitted', carrier = $2, parts = $5, updated_at = now() WHERE message_id = $1
     )
     INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts)
     SELECT $2, cid, $1, $3, $4, ord, $5 FROM unnest($6::text[]) WITH ORDINALITY AS t(cid, ord)
     ON CONFLICT (carrier, carrier_id) DO NOTHING`,
    [job.id, carrier, job.created_at, job.customer_id, carrierIds.length, carrierIds],
  )
}

/** Closes a claim that ended without a carrier taking the message. */
export async function markFinal(q: Queryable, messageId: string): Promise<void> {
  await q.query(`UPDATE deliveries SET state = 'final', updated_at = now() WHERE message_id = $1`, [
    messageId,
  ])
}
