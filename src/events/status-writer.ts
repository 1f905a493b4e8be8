import { settleBatches } from '../batches/completion.ts'
import type { Db, Queryable } from '../db/db.ts'
import { toMicros } from '../domain/money.ts'
import { isFinal, type MessageStatus, REFUNDED_WHEN_UNSENT, STATUS_RANK } from '../domain/status.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'

export interface StatusChange {
  messageId: string
  /** The message's created_at (its partition key), ISO. */
  createdAt: string
  status: MessageStatus
  detail?: Record<string, unknown>
  /** True when no carrier ever accepted the message: a failed/rejected/expired final status refunds it. */
  unsent?: boolean
}

export interface StatusWriter {
  /** Resolves once the change is committed (or found to be a backward move, which is dropped). */
  write(change: StatusChange): Promise<void>
  /**
   * Runs `work` and the status changes it returns in ONE transaction (the worker's submitted mark
   * and `sent`, a receipt's match and its final status): one commit instead of two, and the
   * change is durable exactly when the work is. Resolves with the work's result after the commit.
   */
  transaction<T>(work: (tx: Queryable) => Promise<{ result: T; changes: StatusChange[] }>): Promise<T>
  /**
   * Reports changes committed by a statement that moved statuses itself (a receipt's match,
   * receipts.ts), to the same observers as the writer's own commits.
   */
  committed(applied: AppliedChange[]): void
  drain(): Promise<void>
}

interface Locked {
  id: string
  status: MessageStatus
  customer_id: string
  price_micros: string | number
  priority: string
  batch_id: string | null
}

/** A change that moved a message forward, as committed (for metrics). */
export interface AppliedChange {
  status: MessageStatus
  priority: string
  /** The message's created_at (its accept time), ISO. */
  createdAt: string
}

/**
 * Applies a group of status changes in one transaction: messages are locked in id order, each
 * change is kept only if it moves the status forward, events are appended, the status
 * projection moves, and unsent failures are refunded with a ledger entry — exactly once, since
 * a message reaches a final status only once.
 */
export async function applyStatusChanges(tx: Queryable, changes: StatusChange[]): Promise<AppliedChange[]> {
  const keys = [...new Map(changes.map((c) => [c.messageId, c])).values()].sort((a, b) =>
    a.messageId < b.messageId ? -1 : 1,
  )
  const [from, to] = createdRange(keys.map((k) => k.createdAt))
  // Typed arrays (no JSON to parse) and the partition key's range as constants: the plan reads
  // only the partitions of these days (a join on the keys alone prunes only at run time, after
  // planning and locking every partition) — docs/performance.md, 2026-12-07.
  const { rows } = await tx.query<Locked>(
    `SELECT m.id, m.status, m.customer_id, m.price_micros, m.priority, m.batch_id FROM messages m
       JOIN unnest($1::uuid[], $2::timestamptz[]) AS k(id, created_at) ON m.id = k.id AND m.created_at = k.created_at
      WHERE m.created_at BETWEEN $3 AND $4
      ORDER BY m.id FOR UPDATE OF m`,
    [keys.map((k) => k.messageId), keys.map((k) => k.createdAt), from, to],
  )
  const current = new Map(rows.map((r) => [r.id, r]))
  const events: { message_id: string; customer_id: string; status: string; detail: string | null }[] = []
  const finalStatus = new Map<string, { status: string; created_at: string }>()
  const applied: AppliedChange[] = []
  const refunds = new Map<string, { customer_id: string; amount: number; message_id: string }>()
  /** Batch id → its messages that became final here (batch.completed, ADR 0013). */
  const finished = new Map<string, number>()
  const now = new Date().toISOString()
  for (const c of changes) {
    const m = current.get(c.messageId)
    if (!m || STATUS_RANK[c.status] <= STATUS_RANK[m.status]) continue
    m.status = c.status
    events.push({
      message_id: m.id,
      customer_id: m.customer_id,
      status: c.status,
      detail: c.detail === undefined ? null : JSON.stringify(c.detail),
    })
    finalStatus.set(m.id, { status: c.status, created_at: c.createdAt })
    applied.push({ status: c.status, priority: m.priority, createdAt: c.createdAt })
    if (m.batch_id && isFinal(c.status)) finished.set(m.batch_id, (finished.get(m.batch_id) ?? 0) + 1)
    if (c.unsent && REFUNDED_WHEN_UNSENT.has(c.status)) {
      refunds.set(m.id, { customer_id: m.customer_id, amount: toMicros(m.price_micros), message_id: m.id })
    }
  }
  if (events.length === 0) return applied
  const moved = [...finalStatus]
  await tx.query(
    `WITH e AS (
       INSERT INTO message_events (message_id, customer_id, status, detail, created_at)
       SELECT x.*, $5::timestamptz FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[]) AS x
     )
     UPDATE messages m SET status = x.status, status_updated_at = $5
       FROM unnest($6::uuid[], $7::timestamptz[], $8::text[]) AS x(id, created_at, status)
      WHERE m.id = x.id AND m.created_at = x.created_at AND m.created_at BETWEEN $9 AND $10`,
    [
      events.map((e) => e.message_id),
      events.map((e) => e.customer_id),
      events.map((e) => e.status),
      events.map((e) => e.detail),
      now,
      moved.map(([id]) => id),
      moved.map(([, s]) => s.created_at),
      moved.map(([, s]) => s.status),
      from,
      to,
    ],
  )
  if (refunds.size > 0) await refund(tx, [...refunds.values()])
  await settleBatches(tx, finished)
  return applied
}

/** SQL: the rank of the status in `expr` (STATUS_RANK), for a forward-only move inside a statement. */
export function statusRankSql(expr: string): string {
  const cases = Object.entries(STATUS_RANK).map(([s, r]) => `WHEN '${s}' THEN ${r}`)
  return `(CASE ${expr} ${cases.join(' ')} END)`
}

/**
 * The range of the messages' created_at (their partition key) as constants for the planner,
 * widened by a second each way so a value finer than the millisecond stays inside it; unbounded
 * when a value does not parse (correct, only slower).
 */
export function createdRange(createdAt: string[]): [string, string] {
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (const c of createdAt) {
    const t = Date.parse(c)
    if (Number.isNaN(t)) return ['-infinity', 'infinity']
    if (t < lo) lo = t
    if (t > hi) hi = t
  }
  if (lo > hi) return ['-infinity', 'infinity']
  return [new Date(lo - 1000).toISOString(), new Date(hi + 1000).toISOString()]
}

/** Refunds as ledger entries (never edits), customers locked in id order like the accept path. */
async function refund(
  tx: Queryable,
  items: { customer_id: string; amount: number; message_id: string }[],
): Promise<void> {
  const ids = [...new Set(items.map((i) => i.customer_id))].sort()
  const { rows } = await tx.query<{ id: string; balance: string | number }>(
    'SELECT id, balance FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [ids],
  )
  const balance = new Map(rows.map((r) => [r.id, toMicros(r.balance)]))
  const entries = items.map((i) => {
    const after = (balance.get(i.customer_id) ?? 0) + i.amount
    balance.set(i.customer_id, after)
    return { ...i, balance_after: after }
  })
  await tx.query(
    `WITH l AS (
       INSERT INTO ledger (customer_id, kind, amount, balance_after, message_id)
       SELECT customer_id, 'refund', amount, balance_after, message_id
         FROM json_to_recordset($1::json) AS x(customer_id uuid, amount bigint, balance_after bigint, message_id uuid)
     )
     UPDATE customers c SET balance = x.balance FROM json_to_recordset($2::json) AS x(id uuid, balance bigint) WHERE c.id = x.id`,
    [JSON.stringify(entries), JSON.stringify([...balance].map(([id, b]) => ({ id, balance: b })))],
  )
}

export function createStatusWriter(
  db: Db,
  opts: {
    maxBatch?: number
    concurrency?: number
    /** Called after each committed group with the changes that moved a message forward. */
    onApplied?: (applied: AppliedChange[]) => void
  } = {},
): StatusWriter {
  const committer = createGroupCommitter<StatusChange, undefined>({
    maxBatch: opts.maxBatch ?? 1000,
    // One group at a time: groups lock overlapping messages, and order keeps events in order.
    concurrency: opts.concurrency ?? 1,
    run: async (items) => {
      const applied = await db.transaction((tx) => applyStatusChanges(tx, items))
      opts.onApplied?.(applied)
      return items.map(() => undefined)
    },
  })
  return {
    write: (c) => committer.submit(c),
    async transaction(work) {
      const { result, applied } = await db.transaction(async (tx) => {
        const { result, changes } = await work(tx)
        return { result, applied: changes.length > 0 ? await applyStatusChanges(tx, changes) : [] }
      })
      opts.onApplied?.(applied)
      return result
    },
    committed: (applied) => opts.onApplied?.(applied),
    drain: () => committer.drain(),
  }
}
