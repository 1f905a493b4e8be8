// The customer's events, read from the rows that already record them (ADR 0010): message.queued
// from messages, message.<status> from message_events, everything else from customer_events.
// The envelope is the one of API.md, shared by GET /v1/events, webhooks and the live stream.

import type { Queryable } from '../db/db.ts'
import { messageObject } from '../messages/message-object.ts'
import { findMessages, findMessagesOf, type MessageView } from '../messages/messages-repository.ts'
import { customerEventId, type EventRef, parseEventId, queuedEventId, statusEventId } from './event-ids.ts'

/** What a webhook body, a stream frame and an events API item carry. */
export interface EventEnvelope {
  id: string
  type: string
  created_at: string
  data: Record<string, unknown>
}

/** Events are kept (and listed) this long. */
export const EVENT_RETENTION = '30 days'

const KIND = { queued: 0, status: 1, customer: 2 } as const

export interface EventRow {
  kind: 0 | 1 | 2
  key: string
  at_us: string
  created_at: Date
  type: string
  message_id: string | null
  data: Record<string, unknown> | null
}

export interface EventFilter {
  type?: string
  createdAfter?: Date
  /** Cursor: only events strictly older than this position (newest first). */
  before?: EventPosition
}

/** A position in a customer's event list: microseconds, kind, row key. */
export interface EventPosition {
  atUs: string
  kind: number
  key: string
}

export const positionOf = (r: { at_us: string; kind: number; key: string }): EventPosition => ({
  atUs: r.at_us,
  kind: r.kind,
  key: r.key,
})

/** A bigint row id as a key whose text order is its numeric order (events of one group commit share a created_at). */
const ROW_KEY = (col: string) => `lpad(${col}::text, 20, '0')`
const AT_US = (col: string) => `(extract(epoch from ${col}) * 1000000)::bigint::text AS at_us`
const FROM_US = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`

/** Newest first, up to `limit` rows, rendered. */
export async function listEvents(
  q: Queryable,
  customerId: string,
  f: EventFilter,
  limit: number,
): Promise<(EventEnvelope & { position: EventPosition })[]> {
  const params: unknown[] = [customerId, limit]
  const param = (v: unknown) => {
    params.push(v)
    return `$${params.length}`
  }
  const common = (col: string, kind: number, key: string) => {
    const parts = [`${col} > now() - interval '${EVENT_RETENTION}'`]
    if (f.createdAfter) parts.push(`${col} >= ${param(f.createdAfter.toISOString())}::timestamptz`)
    if (f.before) {
      const at = FROM_US(param(f.before.atUs))
      // The plain bound lets the index range scan start at the cursor; the row comparison is exact.
      parts.push(
        `${col} <= ${at}`,
        `(${col}, ${kind}, ${key}) < (${at}, ${param(f.before.kind)}::int, ${param(f.before.key)}::text)`,
      )
    }
    return parts.join(' AND ')
  }
  const type = f.type
  const branches: string[] = []
  if (!type || type === 'message.queued') {
    // A message's created_at is its UUIDv7's time: id order is (created_at, id) order, and the
    // (customer_id, id DESC) index serves it.
    branches.push(`(SELECT 0 AS kind, m.id::text AS key, ${AT_US('m.created_at')}, m.created_at,
        'message.queued' AS type, m.id::text AS message_id, NULL::jsonb AS data
       FROM messages m
      WHERE m.customer_id = $1 AND (m.send_at IS NULL OR m.send_at <= now())
        AND ${common('m.created_at', 0, 'm.id::text')}
      ORDER BY m.id DESC LIMIT $2)`)
  }
  // message.received is not a status change: it is a customer_events row.
  const statusType = type?.startsWith('message.') && type !== 'message.received'
  if (!type || (statusType && type !== 'message.queued')) {
    const status = type ? `AND e.status = ${param(type.slice('message.'.length))}` : ''
    branches.push(`(SELECT 1 AS kind, ${ROW_KEY('e.id')} AS key, ${AT_US('e.created_at')}, e.created_at,
        'message.' || e.status AS type, e.message_id::text AS message_id, NULL::jsonb AS data
       FROM message_events e
      WHERE e.customer_id = $1 ${status} AND ${common('e.created_at', 1, ROW_KEY('e.id'))}
      ORDER BY e.created_at DESC, e.id DESC LIMIT $2)`)
  }
  if (!statusType) {
    const only = type ? `AND c.type = ${param(type)}` : ''
    branches.push(`(SELECT 2 AS kind, ${ROW_KEY('c.id')} AS key, ${AT_US('c.created_at')}, c.created_at,
        c.type, NULL AS message_id, c.data
       FROM customer_events c
      WHERE c.customer_id = $1 ${only} AND ${common('c.created_at', 2, ROW_KEY('c.id'))}
      ORDER BY c.created_at DESC, c.id DESC LIMIT $2)`)
  }
  const { rows } = await q.query<EventRow>(
    `SELECT * FROM (${branches.join(' UNION ALL ')}) x ORDER BY created_at DESC, kind DESC, key DESC LIMIT $2`,
    params,
  )
  return render(q, customerId, rows)
}

/** One of the customer's events by id, or undefined (unknown, expired or another tenant's). */
export async function findEvent(
  q: Queryable,
  customerId: string,
  id: string,
): Promise<EventEnvelope | undefined> {
  const ref = parseEventId(id)
  if (!ref) return undefined
  const rows = await findRows(q, customerId, ref)
  const [found] = await render(q, customerId, rows)
  if (!found) return undefined
  const { position: _, ...envelope } = found
  return envelope
}

/**
 * Several events at once (the webhooks role renders what a group of attempts sends): one query
 * per kind of event, one render per customer. Unknown, expired or another tenant's: absent.
 */
export async function findEvents(
  q: Queryable,
  wanted: { customerId: string; id: string }[],
): Promise<Map<string, EventEnvelope>> {
  const refs = wanted.flatMap((w) => {
    const ref = parseEventId(w.id)
    return ref ? [{ customerId: w.customerId, ref }] : []
  })
  const of = (kind: EventRef['kind']) =>
    JSON.stringify(
      refs
        .filter((r) => r.ref.kind === kind)
        .map(({ customerId, ref }) => ({
          customer_id: customerId,
          key: ref.kind === 'queued' ? ref.messageId : ref.rowId,
          at: ref.at,
        })),
    )
  const X = `json_to_recordset($1::json) AS x(customer_id uuid, key text, at double precision)`
  const window = (col: string) => `${col} BETWEEN to_timestamp(x.at / 1000) - interval '2 milliseconds'
    AND to_timestamp(x.at / 1000) + interval '2 milliseconds' AND ${col} > now() - interval '${EVENT_RETENTION}'`
  const queries: Promise<{ rows: (EventRow & { customer_id: string })[] }>[] = []
  if (refs.some((r) => r.ref.kind === 'queued')) {
    queries.push(
      q.query(
        `SELECT 0 AS kind, m.id::text AS key, ${AT_US('m.created_at')}, m.created_at, 'message.queued' AS type,
                m.id::text AS message_id, NULL::jsonb AS data, m.customer_id::text
           FROM ${X} CROSS JOIN LATERAL (
             SELECT m.id, m.created_at, m.customer_id FROM messages m
              WHERE m.id = x.key::uuid AND m.customer_id = x.customer_id AND ${window('m.created_at')} LIMIT 1) m`,
        [of('queued')],
        { name: 'find_events_queued' },
      ),
    )
  }
  if (refs.some((r) => r.ref.kind === 'status')) {
    queries.push(
      q.query(
        `SELECT 1 AS kind, ${ROW_KEY('e.id')} AS key, ${AT_US('e.created_at')}, e.created_at,
                'message.' || e.status AS type, e.message_id::text AS message_id, NULL::jsonb AS data,
                e.customer_id::text
           FROM ${X} CROSS JOIN LATERAL (
             SELECT e.id, e.created_at, e.status, e.message_id, e.customer_id FROM message_events e
              WHERE e.id = x.key::bigint AND e.customer_id = x.customer_id AND ${window('e.created_at')} LIMIT 1) e`,
        [of('status')],
        { name: 'find_events_status' },
      ),
    )
  }
  if (refs.some((r) => r.ref.kind === 'customer')) {
    queries.push(
      q.query(
        `SELECT 2 AS kind, ${ROW_KEY('c.id')} AS key, ${AT_US('c.created_at')}, c.created_at, c.type,
                NULL AS message_id, c.data, c.customer_id::text
           FROM ${X} CROSS JOIN LATERAL (
             SELECT c.id, c.created_at, c.type, c.data, c.customer_id FROM customer_events c
              WHERE c.id = x.key::bigint AND c.customer_id = x.customer_id AND ${window('c.created_at')} LIMIT 1) c`,
        [of('customer')],
        { name: 'find_events_customer' },
      ),
    )
  }
  const rows = (await Promise.all(queries)).flatMap((r) => r.rows)
  // The messages of every customer's events in one query (one per customer cost a statement per
  // customer of the group: 1,000 customers, a thousand statements).
  const wantedMessages = new Map<string, { customerId: string; id: string }>()
  for (const r of rows)
    if (r.message_id) wantedMessages.set(r.message_id, { customerId: r.customer_id, id: r.message_id })
  const messages = await findMessagesOf(q, [...wantedMessages.values()])
  const byId = new Map(messages.map((m) => [m.id, m]))
  const found = new Map<string, EventEnvelope>()
  for (const { position: _, ...e } of renderWith(byId, rows)) found.set(e.id, e)
  return found
}

export async function findRows(q: Queryable, customerId: string, ref: EventRef): Promise<EventRow[]> {
  // The id carries the row's time in ms; a window of a few ms around it keeps the probe on one
  // partition whatever the driver's rounding of microseconds.
  const window = `BETWEEN to_timestamp($3::double precision / 1000) - interval '2 milliseconds'
                     AND to_timestamp($3::double precision / 1000) + interval '2 milliseconds'`
  const recent = `> now() - interval '${EVENT_RETENTION}'`
  switch (ref.kind) {
    case 'queued':
      return (
        await q.query<EventRow>(
          `SELECT 0 AS kind, m.id::text AS key, ${AT_US('m.created_at')}, m.created_at,
                  'message.queued' AS type, m.id::text AS message_id, NULL::jsonb AS data
             FROM messages m
            WHERE m.id = $2 AND m.customer_id = $1 AND m.created_at ${window} AND m.created_at ${recent}`,
          [customerId, ref.messageId, ref.at],
        )
      ).rows
    case 'status':
      return (
        await q.query<EventRow>(
          `SELECT 1 AS kind, ${ROW_KEY('e.id')} AS key, ${AT_US('e.created_at')}, e.created_at,
                  'message.' || e.status AS type, e.message_id::text AS message_id, NULL::jsonb AS data
             FROM message_events e
            WHERE e.id = $2 AND e.customer_id = $1 AND e.created_at ${window} AND e.created_at ${recent}`,
          [customerId, ref.rowId, ref.at],
        )
      ).rows
    case 'customer':
      return (
        await q.query<EventRow>(
          `SELECT 2 AS kind, ${ROW_KEY('c.id')} AS key, ${AT_US('c.created_at')}, c.created_at, c.type,
                  NULL AS message_id, c.data
             FROM customer_events c
            WHERE c.id = $2 AND c.customer_id = $1 AND c.created_at ${window} AND c.created_at ${recent}`,
          [customerId, ref.rowId, ref.at],
        )
      ).rows
  }
}

const idOf = (r: EventRow) => {
  const at = new Date(r.created_at).getTime()
  if (r.kind === KIND.queued) return queuedEventId(r.key)
  return r.kind === KIND.status ? statusEventId(r.key, at) : customerEventId(r.key, at)
}

/** Renders rows as envelopes; a message event's data is the message as of that event. */
export async function render(q: Queryable, customerId: string, rows: EventRow[]) {
  const ids = [...new Set(rows.flatMap((r) => (r.message_id ? [r.message_id] : [])))]
  const messages = new Map((await findMessages(q, customerId, ids)).map((m) => [m.id, m]))
  return renderWith(messages, rows)
}

/** Rows rendered with their messages (a row whose message is absent is left out). */
function renderWith(messages: ReadonlyMap<string, MessageView>, rows: EventRow[]) {
  return rows.flatMap((r) => {
    const createdAt = new Date(r.created_at)
    let data: Record<string, unknown>
    if (r.message_id) {
      const m = messages.get(r.message_id)
      if (!m) return []
      data = messageObject({ ...m, status: r.type.slice('message.'.length), updatedAt: createdAt })
    } else {
      data = r.data ?? {}
    }
    return [{ id: idOf(r), type: r.type, created_at: createdAt.toISOString(), data, position: positionOf(r) }]
  })
}
