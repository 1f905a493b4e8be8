// The durable webhook queue in PostgreSQL (ADR 0010): one webhook_deliveries row per (event,
// target) holds the retry state of its chain, webhook_attempts logs every attempt. Enqueueing is
// one statement per group of events, and writes nothing for a customer with no endpoint and no
// callback; the webhooks role does not even send it for a customer with no enabled endpoint (ADR 0021).

import type { Queryable } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'

export interface EnqueueEvent {
  customerId: string
  eventId: string
  type: string
  /** The message the event is about: its status_callback_url also receives it. */
  messageId?: string
  /**
   * Whether that message has a status_callback_url, when the producer knows (a delivery job's
   * `status_callback`): false spares the statement its messages probe; absent, the row is read.
   */
  callback?: boolean
}

/**
 * Queues events, in one statement, for every subscribed enabled endpoint of their customer and for
 * their message's status_callback_url (target `cb:<customer>`: one queue per customer); an event
 * queued before (a bus redelivery) is a no-op. Returns the chains created.
 */
export async function enqueueEvents(q: Queryable, events: EnqueueEvent[]): Promise<number> {
  const unique = [...new Map(events.map((e) => [e.eventId, e])).values()]
  if (unique.length === 0) return 0
  const rows = unique.map((e) => {
    const at = e.messageId && e.callback !== false ? uuidV7Time(e.messageId) : null
    return {
      customer_id: e.customerId,
      event_id: e.eventId,
      type: e.type,
      message_id: at === null ? null : e.messageId,
      message_created_at: at === null ? null : new Date(at).toISOString(),
    }
  })
  const { rowCount } = await q.query(
    `WITH ev AS (
       SELECT * FROM json_to_recordset($1::json)
           AS x(customer_id uuid, event_id text, type text, message_id uuid, message_created_at timestamptz)
     )
     INSERT INTO webhook_deliveries (customer_id, event_id, event_type, target, endpoint_id)
     SELECT ev.customer_id, ev.event_id, ev.type, e.id::text, e.id
       FROM ev CROSS JOIN LATERAL (
         SELECT e.id FROM webhook_endpoints e
          WHERE e.customer_id = ev.customer_id AND e.enabled AND e.deleted_at IS NULL
            AND (e.events IS NULL OR cardinality(e.events) = 0 OR ev.type = ANY(e.events))
         OFFSET 0) e
     UNION ALL
     SELECT ev.customer_id, ev.event_id, ev.type, 'cb:' || ev.customer_id::text, NULL
       FROM ev CROSS JOIN LATERAL (
         SELECT 1 FROM messages m
          WHERE m.id = ev.message_id AND m.created_at = ev.message_created_at
            AND m.customer_id = ev.customer_id AND m.status_callback_url IS NOT NULL
          LIMIT 1) m
      WHERE ev.message_id IS NOT NULL
     ON CONFLICT (event_id, target) DO NOTHING`,
    [JSON.stringify(rows)],
    { name: 'enqueue_webhook_events' },
  )
  // Each event is probed by index (lateral subqueries): a join was planned as a hash join over
  // the whole day's partition of messages (json_to_recordset is estimated at 100 rows), 9.6 ms a
  // call at 20,000 messages and growing with the day (ADR 0021).
  return rowCount
}

export const enqueueEvent = (q: Queryable, e: EnqueueEvent) => enqueueEvents(q, [e])

/**
 * SQL: whether customer `customer` has an enabled endpoint subscribed to event type `type` (column
 * names or parameters). A writer of an event with no message (inbound, opt-out, batch.completed)
 * reads it with the event's own INSERT and runs the enqueue only when true: a customer with no
 * endpoint costs no statement. Read in the same transaction as the enqueue would be, it sees the
 * same endpoints (ADR 0021).
 */
export const subscribedEndpointSql = (customer: string, type: string) =>
  `EXISTS (SELECT 1 FROM webhook_endpoints e
            WHERE e.customer_id = ${customer} AND e.enabled AND e.deleted_at IS NULL
              AND (e.events IS NULL OR cardinality(e.events) = 0 OR ${type} = ANY(e.events)))`

const ENDPOINTS = `SELECT $1::uuid, $2, $3, e.id::text, e.id FROM webhook_endpoints e
  WHERE e.customer_id = $1 AND e.enabled AND e.deleted_at IS NULL
    AND (e.events IS NULL OR cardinality(e.events) = 0 OR $3 = ANY(e.events))`

/**
 * Queues an event again to every endpoint subscribed to its type (a new chain for each), except
 * where its chain is still pending: that one goes on as it is (a redelivery does not reset its
 * backoff or window). Returns the chains queued.
 */
export async function redeliverEvent(q: Queryable, e: Omit<EnqueueEvent, 'messageId'>): Promise<number> {
  const { rowCount } = await q.query(
    `INSERT INTO webhook_deliveries (customer_id, event_id, event_type, target, endpoint_id)
     ${ENDPOINTS}
     ON CONFLICT (event_id, target) DO UPDATE SET state = 'pending', next_attempt_at = now(),
       chain_started_at = now(), updated_at = now()
     WHERE webhook_deliveries.state <> 'pending'`,
    [e.customerId, e.eventId, e.type],
  )
  return rowCount
}

export interface ClaimedDelivery {
  id: string
  customer_id: string
  event_id: string
  event_type: string
  target: string
  endpoint_id: string | null
  attempts: number
  chain_started_at: Date
}

const LEASE = (param: string) =>
  `UPDATE webhook_deliveries d SET next_attempt_at = now() + ${param} * interval '1 millisecond', updated_at = now()`
const RETURNING = `RETURNING d.id::text, d.customer_id::text, d.event_id, d.event_type, d.target,
  d.endpoint_id::text, d.attempts, d.chain_started_at`

/**
 * Takes up to `limit` due deliveries and leases them: another process takes them again only once
 * `leaseMs` passed without an outcome. Never more of one target than its `room` (what this process
 * may still hold of it; `perTarget` for a target not in it), so what waits in memory is attempted
 * well within its lease. With no target full, the oldest due first (one range scan of the due
 * index, `limit` rows deep, capped per target). With targets full, a walk over the targets with
 * pending deliveries, up to their room each: the due backlog of a slow endpoint is never scanned
 * row by row.
 */
export async function claimDue(
  q: Queryable,
  limit: number,
  room: ReadonlyMap<string, number>,
  leaseMs: number,
  perTarget: number,
  opts: { walk?: boolean } = {},
): Promise<ClaimedDelivery[]> {
  const free = [...room].map(([target, n]) => ({ target, free: Math.max(0, n) }))
  const full = free.filter((r) => r.free === 0).map((r) => r.target)
  const ROOM = `room AS (SELECT * FROM json_to_recordset($4::json) AS r(target text, free int))`
  if (full.length > 0 && opts.walk === false) {
    // A target full is the rule under load (the busiest customer's endpoint): the walk over every
    // target with pending deliveries then cost each claim O(targets) — 1,000 endpoints, 15 ms a
    // claim. First the head of the due index, a few times `limit` deep, without the full targets;
    // only if that finds nothing (a backlog of full targets fills the head) the walk. The caller
    // still walks every so often, so a target behind such a backlog waits a walk's period at most.
    const { rows } = await q.query<ClaimedDelivery>(
      `WITH ${ROOM},
       head AS (
         SELECT id, target, next_attempt_at FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT $5
       ),
       capped AS (
         SELECT h.id, h.next_attempt_at,
                row_number() OVER (PARTITION BY h.target ORDER BY h.next_attempt_at) AS n,
                coalesce(r.free, $3) AS free
           FROM head h LEFT JOIN room r ON r.target = h.target
       ),
       chosen AS (SELECT id FROM capped WHERE n <= free ORDER BY next_attempt_at LIMIT $1)
       ${LEASE('$2')}
        WHERE d.id IN (
          SELECT id FROM webhook_deliveries
           WHERE id IN (SELECT id FROM chosen) AND state = 'pending' AND next_attempt_at <= now()
           FOR UPDATE SKIP LOCKED)
       ${RETURNING}`,
      [limit, leaseMs, perTarget, JSON.stringify(free), Math.max(200, 4 * limit)],
      { name: 'claim_webhook_deliveries_head' },
    )
    if (rows.length > 0) return rows
  }
  if (full.length === 0) {
    const { rows } = await q.query<ClaimedDelivery>(
      `WITH ${ROOM},
       head AS (
         SELECT id, target, next_attempt_at FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
       ),
       capped AS (
         SELECT h.id, row_number() OVER (PARTITION BY h.target ORDER BY h.next_attempt_at) AS n,
                coalesce(r.free, $3) AS free
           FROM head h LEFT JOIN room r ON r.target = h.target
       )
       ${LEASE('$2')}
        WHERE d.id IN (SELECT id FROM capped WHERE n <= free)
       ${RETURNING}`,
      [limit, leaseMs, perTarget, JSON.stringify(free)],
      { name: 'claim_webhook_deliveries' },
    )
    return rows
  }
  const { rows } = await q.query<ClaimedDelivery>(
    `WITH RECURSIVE ${ROOM},
     t AS (
       (SELECT target FROM webhook_deliveries WHERE state = 'pending' ORDER BY target LIMIT 1)
       UNION ALL
       SELECT (SELECT w.target FROM webhook_deliveries w
                WHERE w.state = 'pending' AND w.target > t.target ORDER BY w.target LIMIT 1)
         FROM t WHERE t.target IS NOT NULL
     ),
     due AS (
       SELECT c.id FROM t CROSS JOIN LATERAL (
         SELECT w.id FROM webhook_deliveries w
          WHERE w.state = 'pending' AND w.target = t.target AND w.next_attempt_at <= now()
          ORDER BY w.next_attempt_at
          LIMIT coalesce((SELECT r.free FROM room r WHERE r.target = t.target), $3)) c
        WHERE t.target IS NOT NULL
        LIMIT $1
     )
     ${LEASE('$2')}
      WHERE d.id IN (
        SELECT id FROM webhook_deliveries
         WHERE id IN (SELECT id FROM due) AND state = 'pending' AND next_attempt_at <= now()
         FOR UPDATE SKIP LOCKED)
     ${RETURNING}`,
    [limit, leaseMs, perTarget, JSON.stringify(free)],
  )
  return rows
}

/** Hands leased deliveries back at once (a stopping process that did not attempt them). */
export async function releaseClaims(q: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  await q.query(
    `UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = ANY($1::bigint[]) AND state = 'pending'`,
    [ids],
  )
}

export interface AttemptRecord {
  delivery: ClaimedDelivery
  /** Absent when no request was made (endpoint gone, event expired). */
  statusCode?: number
  latencyMs: number
  error?: string
  /** 'succeeded' / 'failed' end the chain; a Date schedules the next attempt. */
  next: 'succeeded' | 'failed' | Date
  /** Failed on our side, before any request: says nothing of the endpoint (no failing streak). */
  internal?: boolean
}

/** A failure this long after the previous one starts a new failing streak. */
export const STREAK_GAP_MS = 24 * 3_600_000

/**
 * Records a group of attempts and moves their chains in one statement (group commit: one round
 * trip for every attempt that ended meanwhile), and moves the failing streak of their endpoints
 * by the last attempt of each in the group. Returns the endpoints now failing for longer than
 * `disableAfterMs`.
 */
export async function recordAttempts(
  q: Queryable,
  records: AttemptRecord[],
  disableAfterMs: number,
): Promise<string[]> {
  if (records.length === 0) return []
  // The endpoint's streak follows the last outcome of the group: two updates of one row in one
  // statement would leave either.
  const streak = new Map<string, 'reset' | 'fail'>()
  for (const a of records) {
    if (a.delivery.endpoint_id && !a.internal) {
      streak.set(a.delivery.endpoint_id, a.next === 'succeeded' ? 'reset' : 'fail')
    }
  }
  const attempts = records.map((a) => ({
    delivery_id: a.delivery.id,
    customer_id: a.delivery.customer_id,
    endpoint_id: a.delivery.endpoint_id,
    event_id: a.delivery.event_id,
    attempt: a.delivery.attempts + 1,
    status_code: a.statusCode ?? null,
    latency_ms: a.latencyMs,
    error: a.error ?? null,
    next_retry_at: a.next instanceof Date ? a.next.toISOString() : null,
    state: a.next instanceof Date ? 'pending' : a.next,
  }))
  const ids = (what: 'reset' | 'fail') => [...streak].filter(([, s]) => s === what).map(([id]) => id)
  // A failure more than a day after the streak's last one starts a new streak (the endpoint was
  // not failing in between, only idle): disabled only after failing continuously.
  const { rows } = await q.query<{ id: string }>(
    `WITH x AS (
       SELECT * FROM json_to_recordset($1::json) AS x(delivery_id bigint, customer_id uuid, endpoint_id uuid,
         event_id text, attempt int, status_code int, latency_ms int, error text, next_retry_at timestamptz, state text)
     ),
     a AS (
       INSERT INTO webhook_attempts (delivery_id, customer_id, endpoint_id, event_id, attempt, status_code,
                                     latency_ms, error, next_retry_at)
       SELECT delivery_id, customer_id, endpoint_id, event_id, attempt, status_code, latency_ms, error, next_retry_at
         FROM x ORDER BY delivery_id
     ),
     d AS (
       UPDATE webhook_deliveries w SET state = x.state, attempts = x.attempt,
              next_attempt_at = coalesce(x.next_retry_at, w.next_attempt_at), updated_at = now()
         FROM x WHERE w.id = x.delivery_id AND w.id = ANY($6::bigint[])
     ),
     ok AS (
       UPDATE webhook_endpoints SET failing_since = NULL, last_failure_at = NULL
        WHERE id = ANY($2::uuid[]) AND failing_since IS NOT NULL
     ),
     bad AS (
       UPDATE webhook_endpoints
          SET failing_since = CASE WHEN failing_since IS NULL OR last_failure_at IS NULL
                                     OR last_failure_at < now() - $5 * interval '1 millisecond'
                                   THEN now() ELSE failing_since END,
              last_failure_at = now()
        WHERE id = ANY($3::uuid[]) AND enabled
        RETURNING id, failing_since <= now() - $4 * interval '1 millisecond' AS expired
     )
     SELECT id::text FROM bad WHERE expired`,
    // The ids again as an array ($6): the join alone was planned as a scan of the whole table (30
    // days of chains) against json_to_recordset's 100-row estimate; with it, a probe of the key.
    [
      JSON.stringify(attempts),
      ids('reset'),
      ids('fail'),
      disableAfterMs,
      STREAK_GAP_MS,
      records.map((a) => a.delivery.id),
    ],
    { name: 'record_webhook_attempts' },
  )
  return rows.map((r) => r.id)
}

/** Records one attempt and moves its chain; returns whether the endpoint is now failing for longer than `disableAfterMs`. */
export async function recordAttempt(
  q: Queryable,
  a: AttemptRecord,
  disableAfterMs: number,
): Promise<boolean> {
  return (await recordAttempts(q, [a], disableAfterMs)).length > 0
}

/**
 * Disables an endpoint that kept failing and records `endpoint.disabled` (queued to the
 * customer's other endpoints). Returns the event's row id and time, or undefined when another
 * process disabled it first.
 */
export async function disableEndpoint(
  q: Queryable,
  endpointId: string,
): Promise<{ customerId: string; rowId: string; at: Date } | undefined> {
  const { rows } = await q.query<{ customer_id: string; id: string; created_at: Date }>(
    `WITH d AS (
       UPDATE webhook_endpoints SET enabled = false, updated_at = now()
        WHERE id = $1 AND enabled
        RETURNING id, customer_id, url, events, description, created_at, failing_since
     )
     INSERT INTO customer_events (customer_id, type, data)
     SELECT customer_id, 'endpoint.disabled',
            jsonb_build_object('id', id, 'object', 'webhook_endpoint', 'url', url,
              'events', coalesce(to_jsonb(events), '[]'::jsonb), 'enabled', false, 'description', description,
              'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'failing_since', to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
       FROM d
     RETURNING customer_id::text, id::text, created_at`,
    [endpointId],
  )
  const r = rows[0]
  return r ? { customerId: r.customer_id, rowId: r.id, at: new Date(r.created_at) } : undefined
}

/** Marks a chain failed without an attempt (its endpoint or event is gone). */
export async function abandonDelivery(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE webhook_deliveries SET state = 'failed', updated_at = now() WHERE id = $1`, [id])
}

export interface AttemptView {
  event_id: string
  attempt: number
  status_code: number | null
  latency_ms: number
  error: string | null
  next_retry_at: Date | null
  created_at: Date
  id: string
}

/** An endpoint's attempts, newest first; `before` is the id of the last attempt of the previous page. */
export async function listAttempts(
  q: Queryable,
  endpointId: string,
  before: string | undefined,
  limit: number,
): Promise<AttemptView[]> {
  const { rows } = await q.query<AttemptView>(
    `SELECT id::text, event_id, attempt, status_code, latency_ms, error, next_retry_at, created_at
       FROM webhook_attempts
      WHERE endpoint_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY webhook_attempts.id DESC LIMIT $3`,
    [endpointId, before ?? null, limit],
  )
  return rows
}

/** Forgets finished chains and attempts older than the events they were about (30 days). */
export async function pruneWebhookHistory(q: Queryable): Promise<number> {
  const chains = await q.query(
    `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < now() - interval '30 days'`,
  )
  const attempts = await q.query(`DELETE FROM webhook_attempts WHERE created_at < now() - interval '30 days'`)
  return chains.rowCount + attempts.rowCount
}
