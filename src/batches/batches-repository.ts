import type { Queryable } from '../db/db.ts'
import type { NewBatch, RejectedRecipient } from '../domain/batch.ts'
import { uuidV7Time } from '../domain/ids.ts'
import type { Priority } from '../domain/message.ts'
import { formatAmount, toMicros } from '../domain/money.ts'

/** A batch as stored. */
export interface BatchView extends Omit<NewBatch, 'customerId'> {
  customerId: string
  accepted: number
  completedAt: Date | null
}

interface BatchRow {
  id: string
  customer_id: string
  created_at: Date
  from_sender: string
  body: string
  priority: Priority
  client_reference: string | null
  send_at: Date | null
  total: number
  accepted: number
  rejected: RejectedRecipient[]
  price_micros: string | number
  currency: string
  completed_at: Date | null
}

const COLUMNS = `id, customer_id, created_at, from_sender, body, priority, client_reference, send_at, total,
  accepted, rejected, price_micros, currency, completed_at`

const fromRow = (r: BatchRow): BatchView => ({
  id: r.id,
  customerId: r.customer_id,
  createdAt: new Date(r.created_at),
  from: r.from_sender,
  body: r.body,
  priority: r.priority,
  clientReference: r.client_reference,
  sendAt: r.send_at ? new Date(r.send_at) : null,
  total: Number(r.total),
  accepted: Number(r.accepted),
  rejected: r.rejected,
  priceMicros: toMicros(r.price_micros),
  currency: r.currency,
  completedAt: r.completed_at ? new Date(r.completed_at) : null,
})

/** A customer's batch by id (another tenant's is undefined: never reveal it exists). */
export async function findBatch(
  q: Queryable,
  customerId: string,
  id: string,
): Promise<BatchView | undefined> {
  if (uuidV7Time(id) === null) return undefined
  const { rows } = await q.query<BatchRow>(
    `SELECT ${COLUMNS} FROM batches WHERE id = $1 AND customer_id = $2`,
    [id, customerId],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** Batches by id, any customer (the status writer renders the ones it completes). */
export async function findBatchesById(q: Queryable, ids: string[]): Promise<BatchView[]> {
  const { rows } = await q.query<BatchRow>(`SELECT ${COLUMNS} FROM batches WHERE id = ANY($1::uuid[])`, [ids])
  return rows.map(fromRow)
}

/** How many of the batch's messages are in each status (its messages share its created_at: one partition). */
export async function countByStatus(
  q: Queryable,
  b: Pick<BatchView, 'id' | 'customerId' | 'createdAt'>,
): Promise<Record<string, number>> {
  const { rows } = await q.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM messages
      WHERE batch_id = $1 AND created_at = $2 AND customer_id = $3 GROUP BY status ORDER BY status`,
    [b.id, b.createdAt.toISOString(), b.customerId],
  )
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
}

/** The public batch object of API.md; key order is fixed so a replay is byte-identical. */
export function batchObject(b: BatchView) {
  return {
    id: b.id,
    object: 'batch' as const,
    status: b.completedAt ? ('completed' as const) : ('accepted' as const),
    total: b.total,
    accepted: b.accepted,
    rejected: b.rejected,
    price: { amount: formatAmount(b.priceMicros), currency: b.currency },
    from: b.from,
    body: b.body,
    priority: b.priority,
    client_reference: b.clientReference,
    send_at: b.sendAt?.toISOString() ?? null,
    created_at: b.createdAt.toISOString(),
    completed_at: b.completedAt?.toISOString() ?? null,
  }
}
