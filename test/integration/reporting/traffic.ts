// Generated traffic written straight into the message log (no accept path: a month of it in
// seconds), status changes as the status writer makes them, and the direct GROUP BY the rollups
// must equal.

import type { Db, Queryable } from '../../../src/db/db.ts'
import { ensurePartitions } from '../../../src/db/partitions.ts'
import { newId } from '../../../src/domain/ids.ts'
import type { MessageStatus } from '../../../src/domain/status.ts'

export interface GenMessage {
  id: string
  createdAt: number
  customerId: string
  country: string
  priority: string
  segments: number
  priceMicros: number
}

/** A UUIDv7 for a given time (random tail), as compose.ts makes ids. */
export function idAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0')
  const tail = newId().replaceAll('-', '').slice(12)
  const h = hex + tail
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export async function insertCustomers(db: Queryable, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newId())
  await db.query(
    `INSERT INTO customers (id, name, rate_limit_mps, balance)
     SELECT id, 'gen-' || left(id::text, 8), 100, 0 FROM unnest($1::uuid[]) AS id`,
    [ids],
  )
  return ids
}

export async function partitionsFor(db: Db, fromMs: number, days: number): Promise<void> {
  await ensurePartitions(db, fromMs, days + 1, 0)
}

export async function insertMessages(db: Queryable, ms: GenMessage[], status: MessageStatus = 'queued') {
  await db.query(
    `INSERT INTO messages (id, created_at, customer_id, to_number, from_sender, body, country, encoding,
                           segments, price_micros, currency, priority, expires_at, status, status_updated_at)
     SELECT x.id, x.created_at, x.customer_id, '+14155550123', 'ACME', 'hi', x.country, 'GSM-7',
            x.segments, x.price_micros, 'USD', x.priority, x.created_at + interval '1 day', $2, x.created_at
       FROM json_to_recordset($1::json) AS x(id uuid, created_at timestamptz, customer_id uuid, country text,
                                             segments int, price_micros bigint, priority text)`,
    [
      JSON.stringify(
        ms.map((m) => ({
          id: m.id,
          created_at: new Date(m.createdAt).toISOString(),
          customer_id: m.customerId,
          country: m.country,
          segments: m.segments,
          price_micros: m.priceMicros,
          priority: m.priority,
        })),
      ),
      status,
    ],
  )
}

/** One status change as the status writer commits it: projection, event row, carrier, refund. */
export interface Change {
  message: GenMessage
  status: MessageStatus
  carrier?: string
  refund?: boolean
}

/** Applies changes in one transaction; returns the event rows written (id, created_at). */
export async function applyChanges(
  db: Db,
  changes: Change[],
  /** When refunds are recorded (default now). */
  refundAt?: Date,
): Promise<{ id: string; change: Change }[]> {
  return db.transaction(async (tx) => {
    const out: { id: string; change: Change }[] = []
    for (const c of changes) {
      const m = c.message
      await tx.query(
        'UPDATE messages SET status = $1, status_updated_at = now() WHERE id = $2 AND created_at = $3',
        [c.status, m.id, new Date(m.createdAt)],
      )
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO message_events (message_id, customer_id, status, created_at) VALUES ($1, $2, $3, now()) RETURNING id::text`,
        [m.id, m.customerId, c.status],
      )
      if (c.carrier)
        await tx.query(
          `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, lease_until, carrier)
           VALUES ($1, $2, $3, 'submitted', now(), $4)
           ON CONFLICT (message_id) DO UPDATE SET carrier = EXCLUDED.carrier`,
          [m.id, new Date(m.createdAt), m.customerId, c.carrier],
        )
      if (c.refund)
        await tx.query(
          `INSERT INTO ledger (customer_id, kind, amount, balance_after, message_id, created_at)
           VALUES ($1, 'refund', $2, $2, $3, coalesce($4, now()))`,
          [m.customerId, m.priceMicros, m.id, refundAt ?? null],
        )
      out.push({ id: rows[0]?.id as string, change: c })
    }
    return out
  })
}

export interface Row {
  customer_id: string
  bucket: string
  country: string
  status: string
  priority: string
  carrier: string
  messages: string
  segments: string
  cost_micros: string
}

const ROW_ORDER = 'ORDER BY customer_id, bucket, country, status, priority, carrier'

/** The rollup table's rows of these customers. */
export async function rollupRows(db: Queryable, table: string, customers: string[]): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT customer_id::text, bucket::text, country, status, priority, carrier,
            messages::text, segments::text, cost_micros::text
       FROM ${table} WHERE customer_id = ANY($1::uuid[]) ${ROW_ORDER}`,
    [customers],
  )
  return rows
}

/** The same rows by a direct GROUP BY over the message log (seconds per bucket: 60, 3600, 86400). */
export async function groupByRows(db: Queryable, seconds: number, customers: string[]): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT customer_id::text, bucket::text, country, status, priority, carrier,
            count(*)::text AS messages, sum(segments)::text AS segments, sum(cost)::text AS cost_micros
       FROM (SELECT m.customer_id, to_timestamp(floor(extract(epoch FROM m.created_at) / $2) * $2) AS bucket,
                    m.country, m.status, m.priority, coalesce(d.carrier, '') AS carrier, m.segments,
                    m.price_micros - coalesce((SELECT sum(amount) FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund'), 0) AS cost
               FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id
              WHERE m.customer_id = ANY($1::uuid[])) x
      GROUP BY customer_id, bucket, country, status, priority, carrier ${ROW_ORDER}`,
    [customers, seconds],
  )
  return rows
}
