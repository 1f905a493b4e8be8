import type { Queryable } from '../db/db.ts'
import type { DeliveryJob, Priority } from '../domain/message.ts'
import { deliveryJob } from './delivery-job.ts'

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
    // Prepared: PostgreSQL then runs it on a generic plan (planning it each pass was ~29 µs per
    // delivered message in split runs; issue 12). Not so the messages read below, whose generic
    // plan executes slower than the planning it saves.
    { name: 'outbox_backlog' },
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

/** An outbox row a release took: which message, and the trace of its accept. */
export interface ClaimedRow {
  seq: number
  customer_id: string
  message_id: string
  /** As text, so a lookup by it matches to the microsecond (a Date keeps milliseconds). */
  message_created_at: string
  trace_parent: string | null
}

/**
 * Takes up to `take[customer]` of each customer's oldest due rows of a lane in ONE statement:
 * locks them (SKIP LOCKED: rows another dispatcher holds are left to it) and deletes them,
 * returning what they point at, ordered by customer then seq. The delete is only seen once the
 * caller's transaction commits, after its publish: a failed publish rolls it back and the rows
 * stay. A row whose accept commits late is found by a later poll: nothing is skipped, whatever
 * the order of sequence numbers and commits.
 */
export async function claimOutbox(
  tx: Queryable,
  lane: Priority,
  take: Map<string, number>,
): Promise<ClaimedRow[]> {
  const wanted = [...take].map(([customer_id, n]) => ({ customer_id, n }))
  if (wanted.length === 0) return []
  const { rows } = await tx.query<{
    seq: string | number
    customer_id: string
    message_id: string
    message_created_at: string
    trace_parent: string | null
  }>(
    // ARRAY(...) makes the lock-and-pick an init plan and the delete an index scan on seq; as
    // a join (USING, IN) the planner hashed the whole outbox, a flood's backlog included.
    `DELETE FROM outbox
      WHERE seq = ANY (ARRAY(
        SELECT o.seq
          FROM json_to_recordset($2::json) AS w(customer_id uuid, n integer)
          CROSS JOIN LATERAL (
            SELECT seq FROM outbox
             WHERE priority = $1 AND customer_id = w.customer_id AND available_at <= now()
             ORDER BY seq LIMIT w.n FOR UPDATE SKIP LOCKED
          ) o))
      RETURNING seq, customer_id, message_id, message_created_at::text, trace_parent`,
    [lane, JSON.stringify(wanted)],
  )
  // RETURNING has no order: the customers' lists are put back in seq order here.
  const claimed = rows.map((r) => ({ ...r, seq: Number(r.seq) }))
  claimed.sort((a, b) =>
    a.customer_id === b.customer_id ? a.seq - b.seq : a.customer_id < b.customer_id ? -1 : 1,
  )
  return claimed
}

/** Claimed outbox rows whose message row is gone: they were deleted with nothing to publish. */
export class OutboxMessageGoneError extends Error {
  readonly code = 'outbox_message_gone'
  override readonly name = 'OutboxMessageGoneError'
  constructor(readonly messageIds: string[]) {
    super(`outbox rows without a message row, dropped: ${messageIds.slice(0, 5).join(', ')}`)
  }
}

/**
 * The jobs of claimed rows: from `known` (the accept path's handoff) when there, else read
 * from `messages` in one query for the rest. Grouped by customer, each in seq order; `gone`
 * lists rows whose message row no longer exists (not expected: retention keeps messages far
 * longer than the outbox holds them).
 */
export async function jobsOf(
  q: Queryable,
  lane: Priority,
  claimed: readonly ClaimedRow[],
  known: (messageId: string) => DeliveryJob | undefined,
): Promise<{ jobs: ClaimedJob[][]; gone: string[] }> {
  const fromMemory = claimed.map((r) => known(r.message_id))
  const missing = claimed.filter((_, i) => fromMemory[i] === undefined)
  const read = missing.length > 0 ? await readJobs(q, lane, missing) : undefined
  const byCustomer = new Map<string, ClaimedJob[]>()
  const gone: string[] = []
  for (const [i, r] of claimed.entries()) {
    const job = fromMemory[i] ?? read?.get(r.message_id)
    if (!job) {
      gone.push(r.message_id)
      continue
    }
    const list = byCustomer.get(r.customer_id)
    const item = { seq: r.seq, job, traceParent: r.trace_parent }
    if (list) list.push(item)
    else byCustomer.set(r.customer_id, [item])
  }
  return { jobs: [...byCustomer.values()], gone }
}

/** The jobs of claimed rows, read from `messages` (by id and created_at: one partition each). */
async function readJobs(
  q: Queryable,
  lane: Priority,
  claimed: readonly ClaimedRow[],
): Promise<Map<string, DeliveryJob>> {
  const { rows } = await q.query<{
    id: string
    created_at: Date
    customer_id: string
    to_number: string
    from_sender: string
    body: string
    encoding: 'GSM-7' | 'UCS-2'
    segments: number
    price_micros: string | number
    country: string
    expires_at: Date
    callback: boolean
  }>(
    `SELECT m.id, m.created_at, m.customer_id, m.to_number, m.from_sender, m.body, m.encoding,
            m.segments, m.price_micros, m.country, m.expires_at,
            m.status_callback_url IS NOT NULL AS callback
       FROM messages m
      -- IN keeps it a nested loop of primary-key lookups, each pruned to one partition; a join
      -- to unnest() was planned as a hash over every message of the day.
      WHERE (m.id, m.created_at) IN (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]))`,
    [claimed.map((r) => r.message_id), claimed.map((r) => r.message_created_at)],
  )
  const jobs = new Map<string, DeliveryJob>()
  for (const r of rows) {
    jobs.set(
      r.id,
      deliveryJob(
        {
          id: r.id,
          created_at: r.created_at,
          customer_id: r.customer_id,
          to: r.to_number,
          from: r.from_sender,
          body: r.body,
          encoding: r.encoding,
          segments: r.segments,
          price_micros: r.price_micros,
          country: r.country,
          expires_at: r.expires_at,
          status_callback: r.callback,
        },
        lane,
      ),
    )
  }
  return jobs
}
