// Inbound (MO) messages: the parts of concatenated ones until they are complete, the stored
// message (routed to a customer or kept for the operator) and its `message.received` event.

import type { Queryable } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import { customerEventId } from '../events/event-ids.ts'
import { enqueueEvent, subscribedEndpointSql } from '../events/webhook-queue.ts'

export interface StoredInbound {
  id: string
  carrier: string
  from: string
  to: string
  body: string
  customerId: string | null
  keyword: string | null
  parts: number
  receivedAt: Date
}

/** What a customer sees (API, webhooks, stream): no carrier, no customer id. */
export const inboundObject = (m: StoredInbound) => ({
  id: m.id,
  object: 'inbound_message' as const,
  from: m.from,
  to: m.to,
  body: m.body,
  keyword: m.keyword,
  parts: m.parts,
  received_at: m.receivedAt.toISOString(),
})

/** What the operator sees besides. */
export const adminInboundObject = (m: StoredInbound) => ({
  ...inboundObject(m),
  carrier: m.carrier,
  customer_id: m.customerId,
})

/** Arbitrary namespace of the per-message reassembly lock. */
const PARTS_LOCK_NS = 7_200_731_015

/**
 * Records one part of a concatenated message. Returns the whole text once every part is in (and
 * removes the parts), else undefined. Under a lock per message: of two parts arriving at once,
 * the later one to take it sees both.
 */
export async function addPart(
  tx: Queryable,
  p: { carrier: string; from: string; to: string; ref: number; total: number; seq: number; body: string },
): Promise<string | undefined> {
  const key = [p.carrier, p.from, p.to, p.ref, p.total]
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($2, $1))', [
    PARTS_LOCK_NS,
    JSON.stringify(key),
  ])
  await tx.query(
    `INSERT INTO inbound_parts (carrier, from_number, to_number, ref, total, seq, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
    [...key, p.seq, p.body],
  )
  const { rows } = await tx.query<{ seq: number; body: string }>(
    `SELECT seq, body FROM inbound_parts
      WHERE carrier = $1 AND from_number = $2 AND to_number = $3 AND ref = $4 AND total = $5 ORDER BY seq`,
    key,
  )
  if (rows.length < p.total) return undefined
  await tx.query(
    'DELETE FROM inbound_parts WHERE carrier = $1 AND from_number = $2 AND to_number = $3 AND ref = $4 AND total = $5',
    key,
  )
  return rows.map((r) => r.body).join('')
}

/** Stores the message; a routed one also records `message.received` and queues it to the webhooks. */
export async function storeInbound(tx: Queryable, m: Omit<StoredInbound, 'id'>): Promise<StoredInbound> {
  const stored: StoredInbound = { id: newId(), ...m }
  await tx.query(
    `INSERT INTO inbound_messages (id, carrier, from_number, to_number, body, customer_id, keyword, parts, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      stored.id,
      m.carrier,
      m.from,
      m.to,
      m.body,
      m.customerId,
      m.keyword,
      m.parts,
      m.receivedAt.toISOString(),
    ],
    { name: 'store_inbound' },
  )
  if (m.customerId) {
    const { rows } = await tx.query<{ id: string; created_at: Date; hooked: boolean }>(
      `INSERT INTO customer_events (customer_id, type, data) VALUES ($1, 'message.received', $2::jsonb)
       RETURNING id::text, created_at, ${subscribedEndpointSql('$1', "'message.received'")} AS hooked`,
      [m.customerId, JSON.stringify(inboundObject(stored))],
      { name: 'store_inbound_event' },
    )
    const e = rows[0] as { id: string; created_at: Date; hooked: boolean }
    if (e.hooked) {
      await enqueueEvent(tx, {
        customerId: m.customerId,
        eventId: customerEventId(e.id, new Date(e.created_at).getTime()),
        type: 'message.received',
      })
    }
  }
  return stored
}

interface Row {
  id: string
  carrier: string
  from_number: string
  to_number: string
  body: string
  customer_id: string | null
  keyword: string | null
  parts: number
  received_at: Date
}

const toInbound = (r: Row): StoredInbound => ({
  id: r.id,
  carrier: r.carrier,
  from: r.from_number,
  to: r.to_number,
  body: r.body,
  customerId: r.customer_id,
  keyword: r.keyword,
  parts: Number(r.parts),
  receivedAt: new Date(r.received_at),
})

export interface InboundFilter {
  /** A customer's messages; null: the unrouted ones (operator); undefined: all (operator). */
  customerId?: string | null
  /** Only routed (true) or only unrouted (false) messages. */
  routed?: boolean
  from?: string
  to?: string
  createdAfter?: Date
  /** Cursor: ids strictly below (UUIDv7: older). */
  before?: string
}

/** Newest first, up to `limit`. */
export async function listInbound(q: Queryable, f: InboundFilter, limit: number): Promise<StoredInbound[]> {
  const params: unknown[] = [limit]
  const where: string[] = []
  const param = (v: unknown) => {
    params.push(v)
    return `$${params.length}`
  }
  if (f.customerId === null) where.push('customer_id IS NULL')
  else if (f.customerId !== undefined) where.push(`customer_id = ${param(f.customerId)}::uuid`)
  if (f.routed !== undefined) where.push(f.routed ? 'customer_id IS NOT NULL' : 'customer_id IS NULL')
  if (f.from) where.push(`from_number = ${param(f.from)}`)
  if (f.to) where.push(`to_number = ${param(f.to)}`)
  if (f.createdAfter) where.push(`received_at >= ${param(f.createdAfter.toISOString())}::timestamptz`)
  if (f.before) where.push(`id < ${param(f.before)}::uuid`)
  const { rows } = await q.query<Row>(
    `SELECT * FROM inbound_messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $1`,
    params,
  )
  return rows.map(toInbound)
}

export async function findInbound(
  q: Queryable,
  customerId: string,
  id: string,
): Promise<StoredInbound | undefined> {
  const { rows } = await q.query<Row>('SELECT * FROM inbound_messages WHERE id = $1 AND customer_id = $2', [
    id,
    customerId,
  ])
  return rows[0] ? toInbound(rows[0]) : undefined
}
