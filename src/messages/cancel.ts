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
import { createGroupCommitter } from '../lib/group-commit.ts'

/** A message to cancel: its customer, id and created_at (its partition key). */
export interface MessageKey {
  customerId: string
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
export const HELD_BY_A_WORKER = 'held by a worker'

/** Cancels the messages that may still be canceled (any customers), in one transaction. */
export function cancelMessages(db: Db, keys: MessageKey[]): Promise<CancelResult> {
  return db.transaction((tx) => cancelIn(tx, keys))
}

export interface Canceler {
  /** Cancels one message; concurrent cancels share a transaction (a customer's row is locked once per group, not per cancel). */
  cancel(key: MessageKey): Promise<'canceled' | { refused: string } | 'not_found'>
  drain(): Promise<void>
}

/** Group commit of single cancels, like the accept path: 100 concurrent cancels are a few transactions. */
export function createCanceler(db: Db, opts: { maxBatch?: number; concurrency?: number } = {}): Canceler {
  const committer = createGroupCommitter<MessageKey, 'canceled' | { refused: string } | 'not_found'>({
    maxBatch: opts.maxBatch ?? 500,
    concurrency: opts.concurrency ?? 2,
    run: async (keys) => {
      const { canceled, refused } = await cancelMessages(db, keys)
      const done = new Set(canceled)
      return keys.map((k) => {
        if (done.has(k.id)) return 'canceled'
        const why = refused.get(k.id)
        return why === undefined ? 'not_found' : { refused: why }
      })
    },
  })
  return { cancel: (k) => committer.submit(k), drain: () => committer.drain() }
}

async function cancelIn(tx: Queryable, keys: MessageKey[]): Promise<CancelResult> {
  // Lock order is the worker's: its claim and submitted mark take the deliveries row, then its
  // status change the messages row. So a cancel reads the candidates unlocked, takes their
  // deliveries rows (the claim race, decided here), and only then locks the messages and re-checks
  // them; locking messages first deadlocked with a worker submitting the same message.
  const { rows: found } = await tx.query<{
    id: string
    created_at: Date
    customer_id: string
    status: string
    priority: string
  }>(
    `SELECT m.id::text, m.created_at, m.customer_id::text, m.status, m.priority FROM messages m
       JOIN json_to_recordset($1::json) AS k(id uuid, created_at timestamptz, customer_id uuid)
         ON m.id = k.id AND m.created_at = k.created_at AND m.customer_id = k.customer_id`,
    [JSON.stringify(keys.map((k) => ({ id: k.id, created_at: k.createdAt, customer_id: k.customerId })))],
  )
  const refused = new Map<string, string>()
  const cancelable = (status: string) => (CANCELABLE as readonly string[]).includes(status)
  const open = found.filter((m) => {
    if (!cancelable(m.status)) refused.set(m.id, m.status)
    return cancelable(m.status)
  })
  if (open.length === 0) return { canceled: [], refused }
  const { rows: won } = await tx.query<{ message_id: string }>(
    `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until)
     SELECT id, created_at, customer_id, 'canceled', 0, now()
       FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[]) AS j(id, created_at, customer_id) ORDER BY id
     ON CONFLICT (message_id) DO UPDATE SET state = 'canceled', updated_at = now()
       WHERE deliveries.state = 'claimed' AND deliveries.lease_until < now()
     RETURNING message_id::text`,
    [
      open.map((m) => m.id),
      open.map((m) => new Date(m.created_at).toISOString()),
      open.map((m) => m.customer_id),
    ],
  )
  const taken = new Set(won.map((r) => r.message_id))
  for (const m of open) if (!taken.has(m.id)) refused.set(m.id, HELD_BY_A_WORKER)
  const candidates = open.filter((m) => taken.has(m.id))
  if (candidates.length === 0) return { canceled: [], refused }
  // Locked now, in id order, and read again: a message that left scheduled/queued meanwhile (it
  // expired) keeps its status, and the deliveries row taken for it is given back.
  const { rows: locked } = await tx.query<{ id: string; status: string }>(
    `SELECT m.id::text, m.status FROM messages m
       JOIN unnest($1::uuid[], $2::timestamptz[]) AS k(id, created_at) ON m.id = k.id AND m.created_at = k.created_at
      ORDER BY m.id FOR UPDATE OF m`,
    [candidates.map((m) => m.id), candidates.map((m) => new Date(m.created_at).toISOString())],
  )
  const now = new Map(locked.map((m) => [m.id, m.status]))
  const mine = candidates.filter((m) => cancelable(now.get(m.id) ?? ''))
  const moved = candidates.filter((m) => !cancelable(now.get(m.id) ?? ''))
  if (moved.length > 0) {
    for (const m of moved) refused.set(m.id, now.get(m.id) ?? m.status)
    await tx.query(`DELETE FROM deliveries WHERE message_id = ANY($1::uuid[]) AND state = 'canceled'`, [
      moved.map((m) => m.id),
    ])
  }
  if (mine.length === 0) return { canceled: [], refused }
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
  // Not dispatched yet: take them out of the outbox, one range of the outbox's (priority,
  // customer_id) index per lane and customer, matched against the canceled ids by hash.
  const lanes = [...new Map(mine.map((m) => [`${m.priority}/${m.customer_id}`, m])).values()]
  await tx.query(
    `DELETE FROM outbox o
      WHERE (o.priority, o.customer_id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))
        AND o.message_id IN (SELECT unnest($3::uuid[]))`,
    [lanes.map((m) => m.priority), lanes.map((m) => m.customer_id), mine.map((m) => m.id)],
  )
  return { canceled: mine.map((m) => m.id), refused }
}
