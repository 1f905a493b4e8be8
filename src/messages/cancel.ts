// Cancel (POST /v1/messages/{id}/cancel, /v1/batches/{id}/cancel): a message still `scheduled` or
// `queued` that no worker holds ends `canceled`, refunded, and never reaches a carrier.
//
// The decision is the `deliveries` row, the row a worker's claim inserts before any submit
// (src/delivery/claims.ts): the cancel inserts it as 'canceled' with ON CONFLICT, so of a cancel
// and a claim racing for one message exactly one gets the row. A worker that finds it 'canceled'
// skips the job; a cancel that finds a live claim is refused. A claim whose lease ran out (its
// worker died before marking the submit) may be taken by the cancel, as by another worker.

import type { Db, Queryable } from '../db/db.ts'
import { applyStatusChanges } from '../events/status-writer.ts'

/** A message to cancel: its id and created_at (its partition key). */
export interface MessageKey {
  id: string
  createdAt: string
}

export interface CancelResult {
  /** Ids now canceled (and refunded) by this call. */
  canceled: string[]
  /** Ids left as they were, with their status (not scheduled/queued, or held by a worker). */
  refused: Map<string, string>
}

export const CANCELABLE = ['scheduled', 'queued'] as const

/** Cancels the customer's messages that may still be canceled; one transaction. */
export function cancelMessages(db: Db, customerId: string, keys: MessageKey[]): Promise<CancelResult> {
  return db.transaction((tx) => cancelIn(tx, customerId, keys))
}

async function cancelIn(tx: Queryable, customerId: string, keys: MessageKey[]): Promise<CancelResult> {
  // Messages first, in id order: the order of the status writer, so the two cannot deadlock.
  const { rows: locked } = await tx.query<{ id: string; created_at: Date; status: string; priority: string }>(
    `SELECT m.id::text, m.created_at, m.status, m.priority FROM messages m
       JOIN json_to_recordset($2::json) AS k(id uuid, created_at timestamptz)
         ON m.id = k.id AND m.created_at = k.created_at
      WHERE m.customer_id = $1
      ORDER BY m.id FOR UPDATE OF m`,
    [customerId, JSON.stringify(keys.map((k) => ({ id: k.id, created_at: k.createdAt })))],
  )
  const refused = new Map<string, string>()
  const open = locked.filter((m) => {
    const ok = (CANCELABLE as readonly string[]).includes(m.status)
    if (!ok) refused.set(m.id, m.status)
    return ok
  })
  if (open.length === 0) return { canceled: [], refused }
  const { rows: won } = await tx.query<{ message_id: string }>(
    `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until)
     SELECT id, created_at, $3::uuid, 'canceled', 0, now()
       FROM unnest($1::uuid[], $2::timestamptz[]) AS j(id, created_at) ORDER BY id
     ON CONFLICT (message_id) DO UPDATE SET state = 'canceled', updated_at = now()
       WHERE deliveries.state = 'claimed' AND deliveries.lease_until < now()
     RETURNING message_id::text`,
    [open.map((m) => m.id), open.map((m) => new Date(m.created_at).toISOString()), customerId],
  )
  const canceled = new Set(won.map((r) => r.message_id))
  for (const m of open) if (!canceled.has(m.id)) refused.set(m.id, 'held by a worker')
  const mine = open.filter((m) => canceled.has(m.id))
  if (mine.length === 0) return { canceled: [], refused }
  // The normal status path: message.canceled event (relayed to webhooks and the stream), the
  // status projection, the refund ledger entry (exactly once: a message is final once) and the
  // batch's open count.
  await applyStatusChanges(
    tx,
    mine.map((m) => ({
      messageId: m.id,
      createdAt: new Date(m.created_at).toISOString(),
      status: 'canceled' as const,
      unsent: true,
      detail: { reason: 'canceled by the customer' },
    })),
  )
  // Not dispatched yet: take it out of the outbox (over the outbox's (priority, customer) index).
  await tx.query(
    `DELETE FROM outbox o USING unnest($3::uuid[]) AS x(id)
      WHERE o.priority = ANY($2::text[]) AND o.customer_id = $1 AND o.message_id = x.id`,
    [customerId, [...new Set(mine.map((m) => m.priority))], mine.map((m) => m.id)],
  )
  return { canceled: mine.map((m) => m.id), refused }
}
