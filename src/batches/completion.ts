// batch.completed: each batch counts its messages not final yet (`open_messages`); the status
// writer settles that count in the transaction that makes messages final (a message becomes
// final exactly once), and the change that brings it to zero records `batch.completed` as a
// customer_events row and queues it to the customer's webhooks (if it has an endpoint for it) in
// the same transaction (ADR 0013).

import type { Queryable } from '../db/db.ts'
import { customerEventId } from '../events/event-ids.ts'
import { enqueueEvents, subscribedEndpointSql } from '../events/webhook-queue.ts'
import { batchObject, countByStatus, findBatchesById } from './batches-repository.ts'

/**
 * Takes `finished` (batch id → messages of it that just became final) off each batch's open
 * count; records `batch.completed` for every batch that reaches zero. Batches are locked in id
 * order after the messages and customers of the caller's transaction (the order of every writer).
 */
export async function settleBatches(tx: Queryable, finished: ReadonlyMap<string, number>): Promise<void> {
  if (finished.size === 0) return
  const settled = [...finished].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, n]) => ({ id, n }))
  const { rows } = await tx.query<{ id: string; completed: boolean }>(
    `WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(id uuid, n integer)),
     lk AS (SELECT b.id FROM batches b WHERE b.id IN (SELECT id FROM x) ORDER BY b.id FOR UPDATE)
     UPDATE batches b SET open_messages = b.open_messages - x.n,
            completed_at = CASE WHEN b.open_messages = x.n THEN now() END
       FROM x JOIN lk ON lk.id = x.id
      WHERE b.id = x.id
     RETURNING b.id::text, b.completed_at IS NOT NULL AS completed`,
    [JSON.stringify(settled)],
  )
  const completed = rows.filter((r) => r.completed).map((r) => r.id)
  if (completed.length === 0) return
  const batches = await findBatchesById(tx, completed)
  const data = await Promise.all(
    batches.map(async (b) => ({
      customer_id: b.customerId,
      data: { ...batchObject(b), counts: await countByStatus(tx, b) },
    })),
  )
  const { rows: events } = await tx.query<{
    id: string
    customer_id: string
    created_at: Date
    hooked: boolean
  }>(
    `INSERT INTO customer_events (customer_id, type, data)
     SELECT customer_id, 'batch.completed', data FROM json_to_recordset($1::json) AS x(customer_id uuid, data jsonb)
     RETURNING id::text, customer_id::text, created_at,
               ${subscribedEndpointSql('customer_events.customer_id', "'batch.completed'")} AS hooked`,
    [JSON.stringify(data)],
  )
  const hooked = events.filter((e) => e.hooked)
  if (hooked.length === 0) return
  await enqueueEvents(
    tx,
    hooked.map((e) => ({
      customerId: e.customer_id,
      eventId: customerEventId(e.id, new Date(e.created_at).getTime()),
      type: 'batch.completed',
    })),
  )
}
