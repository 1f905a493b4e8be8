import type { Queryable } from '../db/db.ts'
import type { DeliveryJob } from '../domain/message.ts'

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
 * A canceled message (src/messages/cancel.ts inserted its row as 'canceled') is `done`, never
 * submitted: the worker acks the job and skips it.
 */
export async function claimDelivery(q: Queryable, job: DeliveryJob, leaseMs: number): Promise<ClaimResult> {
  const attempt = (await claimNew(q, [job], leaseMs)).get(job.id)
  if (attempt !== undefined) return { kind: 'claimed', attempt }
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
 * The common case of claimDelivery for many jobs in one statement: each job never seen before
 * (or whose claim's lease ran out) is claimed; returns claimed id → attempt. The jobs not in the
 * map go through claimDelivery one by one to learn why.
 * With `state` 'submitting' the claim is also the submitting mark (a job's first try, right before
 * its write: ADR 0008 amendment of 2026-12-07), one write where a claim then a mark took two.
 */
export async function claimNew(
  q: Queryable,
  jobs: DeliveryJob[],
  leaseMs: number,
  state: 'claimed' | 'submitting' = 'claimed',
): Promise<Map<string, number>> {
  // Sorted so concurrent groups take the rows' locks in one order.
  const unique = [...new Map(jobs.map((j) => [j.id, j])).values()].sort((a, b) => (a.id < b.id ? -1 : 1))
  const { rows } = await q.query<{ message_id: string; attempts: number }>(
    `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until, expires_at)
     SELECT id, created_at, customer_id, $6::text, 1, now() + $4 * interval '1 millisecond', expires_at
       FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $5::timestamptz[]) AS j(id, created_at, customer_id, expires_at)
     ON CONFLICT (message_id) DO UPDATE
       SET state = EXCLUDED.state, attempts = deliveries.attempts + 1, lease_until = EXCLUDED.lease_until, updated_at = now()
       WHERE deliveries.state = 'claimed' AND deliveries.lease_until < now()
     RETURNING message_id, attempts`,
    [
      unique.map((j) => j.id),
      unique.map((j) => j.created_at),
      unique.map((j) => j.customer_id),
      leaseMs,
      unique.map((j) => j.expires_at),
      state,
    ],
    { name: 'claim_new' },
  )
  return new Map(rows.map((r) => [r.message_id, Number(r.attempts)]))
}

/**
 * Marks claims as on their way to a carrier; returns the ids still held (each may then be sent).
 * A claim is held by the worker whose claim set its attempt number: a takeover increments it, so a
 * stale owner (its lease ran out while it waited) can no longer mark, and never sends.
 * Only its own worker moves a claim out of 'submitting' (or a takeover after a crash, to 'final').
 */
export async function markSubmitting(
  q: Queryable,
  claims: { id: string; attempt: number }[],
): Promise<Set<string>> {
  const { rows } = await q.query<{ message_id: string }>(
    `UPDATE deliveries d SET state = 'submitting', updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt)
      WHERE d.message_id = c.id AND d.attempts = c.attempt AND d.state IN ('claimed', 'submitting')
      RETURNING d.message_id`,
    [claims.map((c) => c.id), claims.map((c) => c.attempt)],
  )
  return new Set(rows.map((r) => r.message_id))
}

/**
 * The carrier answered with an error: the message was not taken, so it may be sent again. Only the
 * claim's owner (its attempt) may: another worker's mark turned back to 'claimed' could be taken
 * over and sent twice.
 */
export async function unmarkSubmitting(q: Queryable, messageId: string, attempt: number): Promise<void> {
  await q.query(
    `UPDATE deliveries SET state = 'claimed', updated_at = now()
      WHERE message_id = $1 AND state = 'submitting' AND attempts = $2`,
    [messageId, attempt],
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

/** The carriers' acceptance and their part ids (for receipts), for many messages in one statement. */
export interface Submitted {
  job: DeliveryJob
  carrier: string
  carrierIds: string[]
  /** Parts of the message (default: one per carrier id; more when the carrier took only some). */
  parts?: number
  /** The carrier submit's traceparent (only while tracing is on), kept for the receipt (ADR 16). */
  traceParent?: string | undefined
}

export async function markSubmittedMany(q: Queryable, items: Submitted[]): Promise<void> {
  const byId = [...new Map(items.map((i) => [i.job.id, i])).values()].sort((a, b) =>
    a.job.id < b.job.id ? -1 : 1,
  )
  const refs = byId.flatMap((i) =>
    i.carrierIds.map((cid, n) => ({
      carrier: i.carrier,
      carrier_id: cid,
      message_id: i.job.id,
      message_created_at: i.job.created_at,
      customer_id: i.job.customer_id,
      part: n + 1,
      parts: i.parts ?? i.carrierIds.length,
      trace_parent: i.traceParent ?? null,
    })),
  )
  // Typed arrays rather than a JSON recordset: nothing to parse per part.
  await q.query(
    `WITH d AS (
       UPDATE deliveries d SET state = 'submitted', carrier = x.carrier, parts = x.parts, updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::int[]) AS x(id, carrier, parts) WHERE d.message_id = x.id
     )
     INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts, trace_parent)
     SELECT * FROM unnest($4::text[], $5::text[], $6::uuid[], $7::timestamptz[], $8::uuid[], $9::int[], $10::int[], $11::text[])
     ON CONFLICT (carrier, carrier_id) DO NOTHING`,
    [
      byId.map((i) => i.job.id),
      byId.map((i) => i.carrier),
      byId.map((i) => i.parts ?? i.carrierIds.length),
      refs.map((r) => r.carrier),
      refs.map((r) => r.carrier_id),
      refs.map((r) => r.message_id),
      refs.map((r) => r.message_created_at),
      refs.map((r) => r.customer_id),
      refs.map((r) => r.part),
      refs.map((r) => r.parts),
      refs.map((r) => r.trace_parent),
    ],
    { name: 'mark_submitted_many' },
  )
}

/** Closes a claim that ended without a carrier taking the message (a cancel's row stays as it is). */
export async function markFinal(q: Queryable, messageId: string): Promise<void> {
  await q.query(
    `UPDATE deliveries SET state = 'final', updated_at = now() WHERE message_id = $1 AND state <> 'canceled'`,
    [messageId],
  )
}
