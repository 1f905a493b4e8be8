// What a resumed live stream sends before it goes live: the customer's events after a position,
// oldest first, in the order of GET /v1/events reversed (created_at, kind, key), bounded to the
// resume window. Also: where an event id sits in that order, and a live bus copy as a row.

import type { Queryable } from '../db/db.ts'
import { parseEventId } from './event-ids.ts'
import {
  type EventEnvelope,
  type EventPosition,
  type EventRow,
  findRows,
  positionOf,
  render,
} from './events-repository.ts'

/** A stream resumes from an event at most this far back (API.md: 24 h). */
export const RESUME_WINDOW_MS = 24 * 3600_000

export type PositionedEvent = EventEnvelope & { position: EventPosition }

const ROW_KEY = (col: string) => `lpad(${col}::text, 20, '0')`
const AT_US = (col: string) => `(extract(epoch from ${col}) * 1000000)::bigint::text AS at_us`
const FROM_US = "('epoch'::timestamptz + $2::bigint * interval '1 microsecond')"

/** Orders positions as the stream does: time, then kind, then key (keys of one kind have one width). */
export function comparePositions(a: EventPosition, b: EventPosition): number {
  const t = BigInt(a.atUs) - BigInt(b.atUs)
  if (t !== 0n) return t < 0n ? -1 : 1
  if (a.kind !== b.kind) return a.kind - b.kind
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

/** Up to `limit` of the customer's events strictly after `after`, oldest first, rendered. */
export async function eventsAfter(
  q: Queryable,
  customerId: string,
  after: EventPosition,
  limit: number,
): Promise<PositionedEvent[]> {
  const bound = (col: string, kind: number, key: string) =>
    `${col} > now() - interval '${RESUME_WINDOW_MS} milliseconds' AND ${col} >= ${FROM_US}
     AND (${col}, ${kind}, ${key}) > (${FROM_US}, $3::int, $4::text)`
  const { rows } = await q.query<EventRow>(
    `SELECT * FROM (
       (SELECT 0 AS kind, m.id::text AS key, ${AT_US('m.created_at')}, m.created_at,
               'message.queued' AS type, m.id::text AS message_id, NULL::jsonb AS data
          FROM messages m
         WHERE m.customer_id = $1 AND (m.send_at IS NULL OR m.send_at <= now())
           AND ${bound('m.created_at', 0, 'm.id::text')}
         ORDER BY m.id LIMIT $5)
       UNION ALL
       (SELECT 1 AS kind, ${ROW_KEY('e.id')} AS key, ${AT_US('e.created_at')}, e.created_at,
               'message.' || e.status AS type, e.message_id::text AS message_id, NULL::jsonb AS data
          FROM message_events e
         WHERE e.customer_id = $1 AND ${bound('e.created_at', 1, ROW_KEY('e.id'))}
         ORDER BY e.created_at, e.id LIMIT $5)
       UNION ALL
       (SELECT 2 AS kind, ${ROW_KEY('c.id')} AS key, ${AT_US('c.created_at')}, c.created_at,
               c.type, NULL AS message_id, c.data
          FROM customer_events c
         WHERE c.customer_id = $1 AND ${bound('c.created_at', 2, ROW_KEY('c.id'))}
         ORDER BY c.created_at, c.id LIMIT $5)
     ) x ORDER BY created_at, kind, key LIMIT $5`,
    [customerId, after.atUs, after.kind, after.key, limit],
  )
  return render(q, customerId, rows)
}

export type ResumePoint =
  | { ok: true; position: EventPosition }
  | { ok: false; reason: 'malformed' | 'expired' }

/**
 * Where a stream resumes after `id`. The customer's own event gives its exact position; an id of
 * no event of theirs (not visible yet, another tenant's) gives the position its id encodes, so
 * nothing about other tenants is revealed. Older than the resume window: `expired`.
 */
export async function resumePoint(
  q: Queryable,
  customerId: string,
  id: string,
  now = Date.now(),
): Promise<ResumePoint> {
  const ref = parseEventId(id)
  if (!ref) return { ok: false, reason: 'malformed' }
  if (ref.at < now - RESUME_WINDOW_MS) return { ok: false, reason: 'expired' }
  const [row] = await findRows(q, customerId, ref)
  if (row) return { ok: true, position: positionOf(row) }
  const atUs = (BigInt(ref.at) * 1000n).toString()
  if (ref.kind === 'queued') return { ok: true, position: { atUs, kind: 0, key: ref.messageId } }
  const key = ref.rowId.padStart(20, '0')
  return { ok: true, position: { atUs, kind: ref.kind === 'status' ? 1 : 2, key } }
}

/** A live copy from the bus as the row it comes from (created_at of both kinds has ms precision). */
export function liveRow(
  e:
    | { kind: 'queued'; messageId: string; createdAt: string }
    | { kind: 'status'; rowId: string; type: string; messageId: string; createdAt: string },
): EventRow {
  const createdAt = new Date(e.createdAt)
  const atUs = (BigInt(createdAt.getTime()) * 1000n).toString()
  return e.kind === 'queued'
    ? {
        kind: 0,
        key: e.messageId,
        at_us: atUs,
        created_at: createdAt,
        type: 'message.queued',
        message_id: e.messageId,
        data: null,
      }
    : {
        kind: 1,
        key: e.rowId.padStart(20, '0'),
        at_us: atUs,
        created_at: createdAt,
        type: e.type,
        message_id: e.messageId,
        data: null,
      }
}

/** Renders live rows of one customer (one query for all their messages). */
export const renderRows = (q: Queryable, customerId: string, rows: EventRow[]): Promise<PositionedEvent[]> =>
  render(q, customerId, rows)
