// Issue 10: every event an enabled endpoint subscribes to was queued for it, and was delivered or
// is still being retried. Event ids are recomputed in SQL (smsgw_row_event_id, migration 0012).

import type { Queryable } from '../db/db.ts'
import { checkFrom, findProblems, type ReconcileCheck } from './check.ts'

export interface WebhookCheckOptions {
  /** Quiescent: a chain still pending is a problem too. */
  settled: boolean
  /** Without `settled`, an event with no chain this long after it happened is lost. */
  stallAfterS: number
}

/**
 * Events of an enabled endpoint's customer since the endpoint last changed (a PATCH of its event
 * types changes what it should have got), of a type it subscribes to: status changes, and
 * message.queued of every dispatched message (one a worker took). A chain that failed for good
 * (the receiver answered 4xx, or 24 h of retries) is the receiver's doing and not counted.
 */
export async function webhooksDelivered(q: Queryable, opts: WebhookCheckOptions): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH ep AS (
       SELECT id, customer_id, events, updated_at FROM webhook_endpoints WHERE enabled AND deleted_at IS NULL
     ),
     ev AS (
       SELECT smsgw_row_event_id(1, e.created_at, e.id) AS event_id, ep.id AS endpoint_id, e.created_at
         FROM message_events e JOIN ep ON ep.customer_id = e.customer_id AND e.created_at > ep.updated_at
        WHERE ep.events IS NULL OR cardinality(ep.events) = 0 OR 'message.' || e.status = ANY(ep.events)
       UNION ALL
       SELECT smsgw_queued_event_id(m.id), ep.id, d.updated_at
         FROM messages m JOIN ep ON ep.customer_id = m.customer_id AND m.created_at > ep.updated_at
         JOIN deliveries d ON d.message_id = m.id
        WHERE ep.events IS NULL OR cardinality(ep.events) = 0 OR 'message.queued' = ANY(ep.events)
     )
     SELECT ev.event_id || ' to ' || ev.endpoint_id AS id,
            CASE WHEN w.id IS NULL THEN 'events never queued for a subscribed endpoint'
                 ELSE 'events still being retried' END AS problem
       FROM ev LEFT JOIN webhook_deliveries w ON w.event_id = ev.event_id AND w.target = ev.endpoint_id::text
      WHERE (w.id IS NULL AND ($1 OR ev.created_at < now() - $2 * interval '1 second'))
         OR ($1 AND w.state = 'pending')`,
    [opts.settled, opts.stallAfterS],
  )
  return checkFrom(
    'webhooks_delivered',
    problems,
    opts.settled
      ? 'every subscribed event was delivered to its endpoints (or refused by them)'
      : 'every subscribed event is queued for its endpoints',
  )
}
