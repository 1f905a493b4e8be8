// The live stream's order and its resume (ADR 0011). The stream sends events in the order they
// become visible, not in the order of their ids: by the transaction that wrote the row (`xid`),
// as the status event relay publishes them (migration 0011), and a replay reads only rows of
// transactions below its snapshot's xmin — every such transaction has ended, so nothing can still
// appear before what it sends. message.queued is placed just before its message's first status
// change (the dispatch writes `sending`): its own row (the accept) is visible long before it is
// dispatched. A resume sends exactly the events after the one named in Last-Event-ID in that
// order, however their ids compare.

import type { Queryable } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'
import { customerEventId, parseEventId, queuedEventId, statusEventId } from './event-ids.ts'
import { type EventEnvelope, type EventRow, render } from './events-repository.ts'

/** A stream resumes from an event at most this far back (API.md: 24 h). */
export const RESUME_WINDOW_MS = 24 * 3600_000
/**
 * A row's created_at is stamped before its transaction commits; a transaction that wrote events
 * is assumed to end within this long of that stamp (it bounds the replay's scan).
 */
export const LONGEST_EVENT_WRITE_MS = 5 * 60_000

/**
 * A place in the stream: the writing transaction, the table (1 message_events, 2
 * customer_events), the row, and 0 for the message.queued placed just before that row.
 */
export interface StreamPosition {
  xid: string
  src: 1 | 2
  id: string
  sub: 0 | 1
}

export type StreamEvent = EventEnvelope & { stream: StreamPosition }

export function compareStream(a: StreamPosition, b: StreamPosition): number {
  const x = BigInt(a.xid) - BigInt(b.xid)
  if (x !== 0n) return x < 0n ? -1 : 1
  if (a.src !== b.src) return a.src - b.src
  const i = BigInt(a.id) - BigInt(b.id)
  if (i !== 0n) return i < 0n ? -1 : 1
  return a.sub - b.sub
}

/** Where a replay starts: after `after` (none: from `since`), reading rows stamped from `since`. */
export interface StreamCursor {
  since: Date
  after: StreamPosition | null
}

/** A row as read for the stream; `first`: the message's first status change. */
interface StreamRow {
  src: 1 | 2
  xid: string
  row_id: string
  created_at: Date
  type: string
  message_id: string | null
  data: Record<string, unknown> | null
  first: boolean
}

const ROW_KEY = (id: string) => id.padStart(20, '0')
const atUs = (d: Date) => (BigInt(d.getTime()) * 1000n).toString()

/** Whether a message_events row `e` is its message's first (an earlier row of it would be after the accept). */
const FIRST = `NOT EXISTS (
  SELECT 1 FROM message_events p
   WHERE p.message_id = e.message_id AND p.id < e.id
     AND p.created_at >= to_timestamp(('x' || left(replace(e.message_id::text, '-', ''), 12))::bit(48)::bigint / 1000.0)
                         - interval '1 minute')`

/** Stream rows as rendered events with their positions, message.queued inserted before a first status change. */
async function renderStream(q: Queryable, customerId: string, rows: StreamRow[]): Promise<StreamEvent[]> {
  const events: EventRow[] = []
  const positions = new Map<string, StreamPosition>()
  for (const r of rows) {
    const created = new Date(r.created_at)
    const pos = { xid: r.xid, src: r.src, id: r.row_id } as const
    if (r.src === 1 && r.message_id) {
      // A message canceled before it was ever dispatched was never queued to a carrier.
      const at = uuidV7Time(r.message_id)
      if (r.first && r.type !== 'message.canceled' && at !== null) {
        const createdAt = new Date(at)
        events.push({
          kind: 0,
          key: r.message_id,
          at_us: atUs(createdAt),
          created_at: createdAt,
          type: 'message.queued',
          message_id: r.message_id,
          data: null,
        })
        positions.set(queuedEventId(r.message_id), { ...pos, sub: 0 })
      }
      events.push({
        kind: 1,
        key: ROW_KEY(r.row_id),
        at_us: atUs(created),
        created_at: created,
        type: r.type,
        message_id: r.message_id,
        data: null,
      })
      positions.set(statusEventId(r.row_id, created.getTime()), { ...pos, sub: 1 })
    } else {
      events.push({
        kind: 2,
        key: ROW_KEY(r.row_id),
        at_us: atUs(created),
        created_at: created,
        type: r.type,
        message_id: null,
        data: r.data,
      })
      positions.set(customerEventId(r.row_id, created.getTime()), { ...pos, sub: 0 })
    }
  }
  return (await render(q, customerId, events)).flatMap(({ position: _, ...e }) => {
    const stream = positions.get(e.id)
    return stream ? [{ ...e, stream }] : []
  })
}

/**
 * The customer's events after the cursor, in stream order, rendered: from `limit` rows (a row's
 * message.queued comes with it). `next` is the cursor after them, absent when no rows are left.
 */
export async function streamAfter(
  q: Queryable,
  customerId: string,
  cursor: StreamCursor,
  limit: number,
): Promise<{ events: StreamEvent[]; next?: StreamCursor }> {
  const a = cursor.after
  // A cursor on a message.queued (sub 0) is just before its status row: that row comes next.
  const bound = (t: string, src: number) =>
    `${t}.customer_id = $1 AND ${t}.created_at >= $2
     AND ${t}.created_at > now() - interval '${RESUME_WINDOW_MS} milliseconds'
     AND ($3::xid8 IS NULL OR (${t}.xid, ${src}, ${t}.id) > ($3::xid8, $4::int, $5::bigint))
     AND ${t}.xid < pg_snapshot_xmin(pg_current_snapshot())`
  const { rows } = await q.query<StreamRow>(
    `SELECT src, x::text AS xid, i::text AS row_id, created_at, type, message_id, data, first FROM (
       (SELECT 1 AS src, e.xid AS x, e.id AS i, e.created_at, 'message.' || e.status AS type,
               e.message_id::text AS message_id, NULL::jsonb AS data, ${FIRST} AS first
          FROM message_events e
         WHERE ${bound('e', 1)}
         ORDER BY e.xid, e.id LIMIT $6)
       UNION ALL
       (SELECT 2 AS src, c.xid AS x, c.id AS i, c.created_at, c.type, NULL AS message_id, c.data, false AS first
          FROM customer_events c
         WHERE ${bound('c', 2)}
         ORDER BY c.xid, c.id LIMIT $6)
     ) s ORDER BY x, src, i LIMIT $6`,
    [
      customerId,
      cursor.since.toISOString(),
      a?.xid ?? null,
      a?.src ?? 0,
      a ? (BigInt(a.id) - (a.sub === 0 ? 1n : 0n)).toString() : '0',
      limit,
    ],
  )
  const events = (await renderStream(q, customerId, rows)).filter((e) => !a || compareStream(e.stream, a) > 0)
  const last = rows.at(-1)
  if (!last || rows.length < limit) return { events }
  return {
    events,
    next: { since: cursor.since, after: { xid: last.xid, src: last.src, id: last.row_id, sub: 1 } },
  }
}

/** Live bus copies (status changes, customer events) as stream events: one query for their transactions, one render. */
export async function streamLive(
  q: Queryable,
  customerId: string,
  live: { src: 1 | 2; rowId: string; createdAt: string }[],
): Promise<StreamEvent[]> {
  if (live.length === 0) return []
  const L = `json_to_recordset($2::json) AS l(src int, id bigint, created_at timestamptz, n int)`
  const { rows } = await q.query<StreamRow>(
    `SELECT src, xid, row_id, created_at, type, message_id, data, first FROM (
       SELECT l.n, 1 AS src, e.xid::text AS xid, e.id::text AS row_id, e.created_at, 'message.' || e.status AS type,
              e.message_id::text AS message_id, NULL::jsonb AS data, ${FIRST} AS first
         FROM ${L} JOIN message_events e ON l.src = 1 AND e.id = l.id AND e.created_at = l.created_at AND e.customer_id = $1
       UNION ALL
       SELECT l.n, 2, c.xid::text, c.id::text, c.created_at, c.type, NULL, c.data, false
         FROM ${L} JOIN customer_events c ON l.src = 2 AND c.id = l.id AND c.customer_id = $1
          -- now() of its transaction: microseconds, where the bus copy carries milliseconds.
          AND c.created_at BETWEEN l.created_at - interval '1 millisecond' AND l.created_at + interval '1 millisecond'
     ) s ORDER BY n`,
    [
      customerId,
      JSON.stringify(live.map((l, n) => ({ src: l.src, id: l.rowId, created_at: l.createdAt, n }))),
    ],
  )
  return renderStream(q, customerId, rows)
}

export type ResumePoint = { ok: true; cursor: StreamCursor } | { ok: false; reason: 'malformed' | 'expired' }

/**
 * Where a stream resumes after `id`: the position of the customer's own event; an id of no
 * event of theirs (not streamed yet, another tenant's) resumes from the time it carries, so
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
  const window = `BETWEEN to_timestamp($3::double precision / 1000) - interval '2 milliseconds'
                     AND to_timestamp($3::double precision / 1000) + interval '2 milliseconds'`
  let found: { xid: string; id: string; created_at: Date } | undefined
  if (ref.kind === 'queued') {
    // Placed just before its message's first status change (none yet: it was never streamed).
    found = (
      await q.query<{ xid: string; id: string; created_at: Date }>(
        `SELECT xid::text, id::text, created_at FROM message_events
          WHERE message_id = $2 AND customer_id = $1
            AND created_at >= to_timestamp($3::double precision / 1000) - interval '1 minute'
          ORDER BY id LIMIT 1`,
        [customerId, ref.messageId, ref.at],
      )
    ).rows[0]
  } else {
    const table = ref.kind === 'status' ? 'message_events' : 'customer_events'
    found = (
      await q.query<{ xid: string; id: string; created_at: Date }>(
        `SELECT xid::text, id::text, created_at FROM ${table}
          WHERE id = $2 AND customer_id = $1 AND created_at ${window}`,
        [customerId, ref.rowId, ref.at],
      )
    ).rows[0]
  }
  if (!found) return { ok: true, cursor: { since: new Date(ref.at), after: null } }
  return {
    ok: true,
    cursor: {
      since: new Date(new Date(found.created_at).getTime() - LONGEST_EVENT_WRITE_MS),
      after: {
        xid: found.xid,
        src: ref.kind === 'customer' ? 2 : 1,
        id: found.id,
        sub: ref.kind === 'queued' ? 0 : ref.kind === 'status' ? 1 : 0,
      },
    },
  }
}
