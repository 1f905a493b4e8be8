// Status changes committed in PostgreSQL (message_events rows) → status events on the bus.
// message_events is the outbox: each row carries the id of the transaction that wrote it, and the
// relay publishes in (xid, id) order only rows of transactions below its snapshot's xmin — every
// such transaction has ended, so a row that commits late (a lower id than rows already
// committed) is never skipped. The position is saved after each published batch; after a crash
// the batch in flight is published again with the same msgIds (ADR 0009). A customer's consecutive
// status events of a pass travel as one bus message (`sms.status.<customer>.batch`, at most
// BUS_BATCH events): one publish, one delivery and one ack per consumer for many events. customer_events rows
// (endpoint.disabled, …) are published the same way, merged in (xid, table, id) order, on
// `sms.event.<customer>.<type>`: the live stream's order (ADR 0011).

import type { Bus } from '../bus/bus.ts'
import {
  customerEventMsgId,
  customerEventSubject,
  statusBatchMsgId,
  statusBatchSubject,
} from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import type { MessageStatus } from '../domain/status.ts'
import { createPollLoop } from '../lib/poll-loop.ts'
import { stderrReporter } from '../observability/reporter.ts'
import type { StatusEvent, StatusEventBatch } from './status-events.ts'

/** Arbitrary constant: one relay publishes at a time; others find the lock taken and wait. */
const RELAY_LOCK = 7_200_731_011
/** A transaction that wrote an event is assumed to end within this long of the event's created_at (it bounds the scan). */
const LONGEST_WRITE = '1 hour'
/** Status events per bus message at most (a few hundred bytes each: well under NATS's 1 MB payload limit). */
const BUS_BATCH = 500

export interface StatusEventRelayOptions {
  db: Db
  bus: Bus
  /** Events published per pass (default 1000). */
  batch?: number
  /** Idle poll, first and longest wait, ms (default 10, 100). */
  idleMs?: number
  maxIdleMs?: number
  onPublished?: (n: number) => void
  /** Default: written to stderr. */
  onError?: (err: unknown) => void
}

export interface StatusEventRelay {
  /** One pass: publishes what is ready, returns how many. */
  pass(): Promise<number>
  start(): void
  wake(): void
  stop(): Promise<void>
}

/** A customer_events row on the bus (its envelope is rendered from the row by whoever needs it). */
export interface CustomerEvent {
  /** The customer_events row id. */
  id: string
  type: string
  customer_id: string
  created_at: string
}

interface EventRow {
  src: 1 | 2
  type: string | null
  id: string
  message_id: string
  customer_id: string
  status: MessageStatus
  detail: Record<string, unknown> | null
  created_at: Date
  xid: string
}

interface Position {
  xid: string
  src: number
  id: string
  updated_at: Date
}

export function createStatusEventRelay(opts: StatusEventRelayOptions): StatusEventRelay {
  const batch = opts.batch ?? 1000
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`relay batch must be a positive integer, got ${batch}`)
  // $1-$3: the position (xid, src, id); $4: its updated_at. The batch is written into the text
  // (an integer, checked above), so the generic plan knows its LIMIT.
  const RELAY_SQL = `SELECT src, id::text, message_id, customer_id, status, type, detail, created_at, x::text AS xid FROM (
      (SELECT 1 AS src, e.id, e.message_id, e.customer_id, e.status, NULL AS type, e.detail, e.created_at, e.xid AS x
         FROM message_events e
        WHERE e.created_at >= $4::timestamptz - interval '${LONGEST_WRITE}'
          AND (e.xid, 1, e.id) > ($1::xid8, $2::int, $3::bigint)
          AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY e.xid, e.id
        LIMIT ${batch})
      UNION ALL
      (SELECT 2, c.id, NULL, c.customer_id, NULL, c.type, NULL, c.created_at, c.xid
         FROM customer_events c
        WHERE c.created_at >= $4::timestamptz - interval '${LONGEST_WRITE}'
          AND (c.xid, 2, c.id) > ($1::xid8, $2::int, $3::bigint)
          AND c.xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY c.xid, c.id
        LIMIT ${batch})
    ) r ORDER BY r.x, r.src, r.id LIMIT ${batch}`

  const pass = () =>
    opts.db.transaction(async (tx) => {
      const { rows: lock } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
        RELAY_LOCK,
      ])
      if (!lock[0]?.ok) return 0
      // The position goes in as parameters of a generic plan (forced for this transaction): with
      // the position joined in, the query was planned afresh on every pass, over every partition of
      // both event tables — ~2 ms of PostgreSQL CPU a pass, the most expensive plan of the delivery
      // path (issue 12). The generic plan is made once per connection and drops the days before
      // the bound when it starts.
      const { rows: at } = await tx.query<Position>(
        `SELECT set_config('plan_cache_mode', 'force_generic_plan', true) AS mode,
                xid::text, src, id::text, updated_at
           FROM event_relay_position WHERE name = 'status'`,
        [],
        { name: 'relay_position' },
      )
      const p = at[0]
      if (!p) return 0
      const { rows } = await tx.query<EventRow>(RELAY_SQL, [p.xid, p.src, p.id, p.updated_at], {
        name: `relay_status_events_${batch}`,
      })
      const last = rows.at(-1)
      if (!last) return 0
      const publishes: Promise<unknown>[] = []
      // A customer's consecutive status events travel as one bus message; a customer event of that
      // customer ends the run first, so the customer's stream keeps the relay's order.
      const open = new Map<string, StatusEvent[]>()
      const flush = (customerId: string) => {
        const events = open.get(customerId)
        if (!events?.length) return
        open.delete(customerId)
        const batch: StatusEventBatch = { events }
        publishes.push(
          opts.bus.publish(statusBatchSubject(customerId), batch, {
            msgId: statusBatchMsgId(events[0]?.id ?? '', events.at(-1)?.id ?? '', events.length),
          }),
        )
      }
      for (const r of rows) {
        if (r.src === 2) {
          flush(r.customer_id)
          const event: CustomerEvent = {
            id: r.id,
            type: r.type as string,
            customer_id: r.customer_id,
            created_at: r.created_at.toISOString(),
          }
          publishes.push(
            opts.bus.publish(customerEventSubject(r.customer_id, event.type), event, {
              msgId: customerEventMsgId(r.id),
            }),
          )
          continue
        }
        const events = open.get(r.customer_id) ?? []
        open.set(r.customer_id, events)
        events.push({
          id: r.id,
          type: `message.${r.status}`,
          message_id: r.message_id,
          customer_id: r.customer_id,
          status: r.status,
          detail: r.detail,
          created_at: r.created_at.toISOString(),
        })
        if (events.length >= BUS_BATCH) flush(r.customer_id)
      }
      for (const customerId of [...open.keys()]) flush(customerId)
      await Promise.all(publishes)
      // The scan bound follows the events, not the clock: a relay that was down a day resumes there.
      await tx.query(
        `UPDATE event_relay_position SET xid = $1::xid8, src = $2, id = $3, updated_at = $4 WHERE name = 'status'`,
        [last.xid, last.src, last.id, last.created_at],
      )
      opts.onPublished?.(rows.length)
      return rows.length
    })

  const loop = createPollLoop({
    pass,
    idleMs: opts.idleMs ?? 10,
    maxIdleMs: opts.maxIdleMs ?? 100,
    onError: opts.onError ?? stderrReporter('status event relay'),
  })
  return { pass, ...loop }
}
