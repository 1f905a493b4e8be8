import type { Queryable } from '../db/db.ts'
import type { DeliveryJob, Priority } from '../domain/message.ts'
import { toMicros } from '../domain/money.ts'

export interface BacklogRow {
  customer_id: string
  backlog: number
  rate_limit_mps: number
}

/**
 * Customers with due work in a lane and how much. A loose index scan over
 * outbox(priority, customer_id, seq) visits each customer once, so one customer's 50,000 rows
 * cost no more than one row; counts are capped at `countCap` for the same reason.
 */
export async function backlogByCustomer(
  q: Queryable,
  lane: Priority,
  countCap: number,
): Promise<BacklogRow[]> {
  const { rows } = await q.query<{ customer_id: string; backlog: string | number; rate_limit_mps: number }>(
    `WITH RECURSIVE c AS (
       (SELECT customer_id FROM outbox WHERE priority = $1 ORDER BY customer_id LIMIT 1)
       UNION ALL
       SELECT (SELECT o.customer_id FROM outbox o WHERE o.priority = $1 AND o.customer_id > c.customer_id
                ORDER BY o.customer_id LIMIT 1)
         FROM c WHERE c.customer_id IS NOT NULL
     )
     SELECT c.customer_id, n.backlog, cu.rate_limit_mps
       FROM c
       JOIN customers cu ON cu.id = c.customer_id
       CROSS JOIN LATERAL (
         SELECT count(*) AS backlog FROM (
           SELECT 1 FROM outbox o WHERE o.priority = $1 AND o.customer_id = c.customer_id AND o.available_at <= now()
           LIMIT $2) x
       ) n
      WHERE c.customer_id IS NOT NULL AND n.backlog > 0`,
    [lane, countCap],
  )
  return rows.map((r) => ({
    customer_id: r.customer_id,
    backlog: Number(r.backlog),
    rate_limit_mps: Number(r.rate_limit_mps),
  }))
}

export interface ClaimedJob {
  seq: number
  job: DeliveryJob
  /** The accept commit's traceparent (written only while tracing is on), the parent of `dispatch`. */
  traceParent: string | null
}

/**
 * Locks up to `take[customer]` of each customer's oldest due rows (SKIP LOCKED: another
 * dispatcher's rows are left to it) with what the worker needs. Rows stay in the outbox until
 * `deleteClaimed` commits, so a row whose transaction commits late is found by a later poll —
 * nothing is skipped, whatever the order of sequence numbers and commits.
 */
export async function claimJobs(
  tx: Queryable,
  lane: Priority,
  take: Map<string, number>,
): Promise<ClaimedJob[][]> {
  const wanted = [...take].map(([customer_id, n]) => ({ customer_id, n }))
  if (wanted.length === 0) return []
  const { rows } = await tx.query<{
    seq: string | number
    customer_id: string
    id: string
    created_at: Date
    to_number: string
    from_sender: string
    body: string
    encoding: 'GSM-7' | 'UCS-2'
    segments: number
    price_micros: string | number
    country: string
    expires_at: Date
    trace_parent: string | null
    callback: boolean
  }>(
    `SELECT o.seq, o.customer_id, m.id, m.created_at, m.to_number, m.from_sender, m.body, m.encoding,
            m.segments, m.price_micros, m.country, m.expires_at, o.trace_parent,
            m.status_callback_url IS NOT NULL AS callback
       FROM json_to_recordset($2::json) AS w(customer_id uuid, n integer)
       CROSS JOIN LATERAL (
         SELECT seq, customer_id, message_id, message_created_at, trace_parent FROM outbox
          WHERE priority = $1 AND customer_id = w.customer_id AND available_at <= now()
          ORDER BY seq LIMIT w.n FOR UPDATE SKIP LOCKED
       ) o
       JOIN messages m ON m.id = o.message_id AND m.created_at = o.message_created_at
      ORDER BY o.customer_id, o.seq`,
    [lane, JSON.stringify(wanted)],
  )
  const byCustomer = new Map<string, ClaimedJob[]>()
  for (const r of rows) {
    const list = byCustomer.get(r.customer_id) ?? []
    list.push({
      seq: Number(r.seq),
      job: {
        id: r.id,
        created_at: new Date(r.created_at).toISOString(),
        customer_id: r.customer_id,
        to: r.to_number,
        from: r.from_sender,
        body: r.body,
        encoding: r.encoding,
        segments: Number(r.segments),
        price_micros: toMicros(r.price_micros),
        priority: lane,
        country: r.country,
        expires_at: new Date(r.expires_at).toISOString(),
        status_callback: r.callback,
      },
      traceParent: r.trace_parent,
    })
    byCustomer.set(r.customer_id, list)
  }
  return [...byCustomer.values()]
}

export async function deleteClaimed(tx: Queryable, seqs: number[]): Promise<void> {
  await tx.query('DELETE FROM outbox WHERE seq = ANY($1::bigint[])', [seqs])
}
