import type { Queryable } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'
import type { NewMessage, Priority } from '../domain/message.ts'
import { toMicros } from '../domain/money.ts'
import type { Encoding } from '../domain/segments.ts'

/** The stored shape of a message, as read back from the database. */
export interface MessageView extends Omit<NewMessage, 'apiKeyId' | 'status' | 'body'> {
  /** NULL once redacted (SMSGW_BODY_RETENTION_DAYS). */
  body: string | null
  status: string
  updatedAt: Date
}

interface MessageRow {
  id: string
  created_at: Date
  to_number: string
  from_sender: string
  body: string | null
  country: string
  encoding: Encoding
  segments: number
  price_micros: string | number
  currency: string
  priority: Priority
  client_reference: string | null
  status_callback_url: string | null
  metadata: Record<string, string> | null
  batch_id: string | null
  expires_at: Date
  send_at: Date | null
  status: string
  status_updated_at: Date
  customer_id: string
}

const COLUMNS = `id, created_at, customer_id, to_number, from_sender, body, country, encoding, segments,
  price_micros, currency, priority, client_reference, status_callback_url, metadata, batch_id,
  expires_at, send_at, status, status_updated_at`

const fromRow = (r: MessageRow): MessageView => ({
  id: r.id,
  createdAt: new Date(r.created_at),
  customerId: r.customer_id,
  to: r.to_number,
  from: r.from_sender,
  body: r.body,
  country: r.country,
  encoding: r.encoding,
  segments: Number(r.segments),
  priceMicros: toMicros(r.price_micros),
  currency: r.currency,
  priority: r.priority,
  clientReference: r.client_reference,
  statusCallbackUrl: r.status_callback_url,
  metadata: r.metadata,
  batchId: r.batch_id,
  expiresAt: new Date(r.expires_at),
  sendAt: r.send_at ? new Date(r.send_at) : null,
  status: r.status,
  updatedAt: new Date(r.status_updated_at),
})

/** A customer's message by id; the UUIDv7 timestamp is its created_at, so one partition is read. */
export async function findMessage(
  q: Queryable,
  customerId: string,
  id: string,
): Promise<MessageView | undefined> {
  const t = uuidV7Time(id)
  if (t === null) return undefined
  const { rows } = await q.query<MessageRow>(
    `SELECT ${COLUMNS} FROM messages WHERE id = $1 AND customer_id = $2 AND created_at = $3`,
    [id, customerId, new Date(t).toISOString()],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** A customer's messages by id (one partition probe each); unknown or foreign ids are left out. */
export async function findMessages(q: Queryable, customerId: string, ids: string[]): Promise<MessageView[]> {
  const keys = ids.flatMap((id) => {
    const t = uuidV7Time(id)
    return t === null ? [] : [{ id, created_at: new Date(t).toISOString() }]
  })
  if (keys.length === 0) return []
  const { rows } = await q.query<MessageRow>(
    `SELECT ${COLUMNS} FROM messages
      WHERE customer_id = $1 AND (id, created_at) IN (
        SELECT k.id, k.created_at FROM json_to_recordset($2::json) AS k(id uuid, created_at timestamptz))`,
    [customerId, JSON.stringify(keys)],
  )
  return rows.map(fromRow)
}

/**
 * Messages of several customers by id, in one query: one primary-key probe each (a lateral
 * subquery, so the plan never turns into a scan of the day's partition whatever the row estimates).
 */
export async function findMessagesOf(
  q: Queryable,
  wanted: { customerId: string; id: string }[],
): Promise<MessageView[]> {
  const keys = wanted.flatMap(({ customerId, id }) => {
    const t = uuidV7Time(id)
    return t === null ? [] : [{ customer_id: customerId, id, created_at: new Date(t).toISOString() }]
  })
  if (keys.length === 0) return []
  const { rows } = await q.query<MessageRow>(
    `SELECT m.* FROM json_to_recordset($1::json) AS k(customer_id uuid, id uuid, created_at timestamptz)
      CROSS JOIN LATERAL (
        SELECT ${COLUMNS} FROM messages
         WHERE id = k.id AND created_at = k.created_at AND customer_id = k.customer_id LIMIT 1) m`,
    [JSON.stringify(keys)],
    { name: 'find_messages_of' },
  )
  return rows.map(fromRow)
}

export interface MessageEvent {
  status: string
  createdAt: Date
  detail: Record<string, unknown> | null
}

export async function messageEvents(
  q: Queryable,
  m: Pick<MessageView, 'id' | 'createdAt'>,
): Promise<MessageEvent[]> {
  const { rows } = await q.query<{
    status: string
    created_at: Date
    detail: Record<string, unknown> | null
  }>(
    `SELECT status, created_at, detail FROM message_events
      WHERE message_id = $1 AND created_at >= $2 ORDER BY created_at, id`,
    [m.id, m.createdAt.toISOString()],
  )
  return rows.map((r) => ({ status: r.status, createdAt: new Date(r.created_at), detail: r.detail }))
}

export interface MessageFilter {
  status?: string
  to?: string
  from?: string
  clientReference?: string
  batchId?: string
  createdAfter?: Date
  createdBefore?: Date
  /** Only ids older than this one (cursor; newest first). */
  before?: string
}

/** Newest first; returns up to limit rows. */
export async function listMessages(
  q: Queryable,
  customerId: string,
  f: MessageFilter,
  limit: number,
): Promise<MessageView[]> {
  const where = ['customer_id = $1']
  const params: unknown[] = [customerId]
  const add = (sql: string, v: unknown) => {
    params.push(v)
    where.push(sql.replace('?', `$${params.length}`))
  }
  if (f.status) add('status = ?', f.status)
  if (f.to) add('to_number = ?', f.to)
  if (f.from) add('from_sender = ?', f.from)
  if (f.clientReference) add('client_reference = ?', f.clientReference)
  if (f.batchId) add('batch_id = ?', f.batchId)
  if (f.createdAfter) add('created_at >= ?', f.createdAfter.toISOString())
  if (f.createdBefore) add('created_at < ?', f.createdBefore.toISOString())
  if (f.before) {
    add('id < ?', f.before)
    const t = uuidV7Time(f.before)
    if (t !== null) add('created_at <= ?', new Date(t).toISOString())
  }
  params.push(limit)
  const { rows } = await q.query<MessageRow>(
    `SELECT ${COLUMNS} FROM messages WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  )
  return rows.map(fromRow)
}
