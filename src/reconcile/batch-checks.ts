// Batches and cancels (ADR 0013): a batch's charge is the sum of its messages' prices and its
// counts match its messages; a canceled message was refunded once and never reached a carrier.

import type { Queryable } from '../db/db.ts'
import { FINAL_STATUSES } from '../domain/status.ts'
import { checkFrom, findProblems, type ReconcileCheck } from './check.ts'

/**
 * Per batch, from its messages (one partition each, over messages_batch): price = sum of their
 * prices, accepted = their count, accepted + rejected = total, open = those not final,
 * completed exactly when none is open, and one `batch.completed` event per completed batch (while
 * events are kept). Messages naming a batch that does not exist are orphans.
 */
export async function batchesConsistent(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH m AS (
       SELECT b.id, count(m.id) AS n, coalesce(sum(m.price_micros), 0) AS price,
              count(m.id) FILTER (WHERE m.status <> ALL($1::text[])) AS open,
              count(m.id) FILTER (WHERE m.customer_id <> b.customer_id) AS foreign_messages
         FROM batches b LEFT JOIN messages m ON m.batch_id = b.id AND m.created_at = b.created_at
        GROUP BY b.id
     ), e AS (
       SELECT data->>'id' AS id, count(*) AS n FROM customer_events WHERE type = 'batch.completed' GROUP BY 1
     )
     SELECT id, problem FROM (
       SELECT b.id::text AS id,
              CASE WHEN m.price <> b.price_micros THEN 'batches whose charge ≠ the sum of their messages'' prices'
                   WHEN m.n <> b.accepted THEN 'batches whose accepted count ≠ their messages'
                   WHEN m.foreign_messages > 0 THEN 'batches with messages of another customer'
                   WHEN b.accepted + jsonb_array_length(b.rejected) <> b.total THEN 'batches whose accepted + rejected ≠ total'
                   WHEN m.open <> b.open_messages THEN 'batches whose open count ≠ their messages not final'
                   WHEN (b.completed_at IS NULL) <> (b.open_messages > 0) THEN 'batches completed with messages open, or not completed with none'
                   WHEN b.completed_at > now() - interval '29 days' AND coalesce(e.n, 0) <> 1
                     THEN 'completed batches without exactly one batch.completed event'
                   WHEN b.completed_at IS NULL AND coalesce(e.n, 0) > 0 THEN 'batch.completed recorded for an open batch'
              END AS problem
         FROM batches b JOIN m ON m.id = b.id LEFT JOIN e ON e.id = b.id::text
       UNION ALL
       SELECT m.id::text, 'messages of a batch that does not exist' FROM messages m
        WHERE m.batch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = m.batch_id)
     ) x WHERE problem IS NOT NULL`,
    [FINAL_STATUSES],
  )
  return checkFrom(
    'batches_consistent',
    problems,
    "each batch's charge is the sum of its messages' prices and its counts match them",
  )
}

/**
 * Every canceled message was refunded exactly once at its price and never reached a carrier:
 * its deliveries row is the cancel's ('canceled', no carrier) and it has no carrier ids. A
 * 'canceled' deliveries row belongs to a canceled message.
 */
export async function cancelsUnsent(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `SELECT id, problem FROM (
       SELECT m.id::text AS id,
              CASE WHEN EXISTS (SELECT 1 FROM carrier_refs r WHERE r.message_id = m.id)
                     THEN 'canceled messages recorded at a carrier'
                   WHEN d.message_id IS NULL THEN 'canceled messages without the cancel''s delivery row'
                   WHEN d.state <> 'canceled' OR d.carrier IS NOT NULL THEN 'canceled messages a worker went on with'
                   WHEN (SELECT count(*) FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund') <> 1
                     THEN 'canceled messages not refunded exactly once'
                   WHEN (SELECT sum(amount) FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund') <> m.price_micros
                     THEN 'canceled messages refunded ≠ their price'
              END AS problem
         FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id
        WHERE m.status = 'canceled'
       UNION ALL
       SELECT d.message_id::text, 'canceled delivery rows of messages not canceled'
         FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.message_created_at
        WHERE d.state = 'canceled' AND m.status <> 'canceled'
     ) x WHERE problem IS NOT NULL`,
  )
  return checkFrom(
    'cancels_unsent',
    problems,
    'each canceled message refunded once at its price and never at a carrier',
  )
}
