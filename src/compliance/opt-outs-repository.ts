// Opt-out periods (migration 0014): one active row per (customer, phone); START/DELETE end it.
// Every opt-out also records `opt_out.created` (a customer_events row, queued to the customer's
// webhooks, if it has an endpoint for it, in the same transaction as endpoint.disabled is: ADR 0010).

import type { Db, Queryable } from '../db/db.ts'
import { customerEventId } from '../events/event-ids.ts'
import { enqueueEvent, subscribedEndpointSql } from '../events/webhook-queue.ts'

export interface OptOut {
  id: string
  phone: string
  source: 'keyword' | 'api'
  createdAt: Date
}

export const optOutObject = (o: OptOut) => ({
  object: 'opt_out' as const,
  phone: o.phone,
  source: o.source,
  created_at: o.createdAt.toISOString(),
})

/**
 * Puts `phone` on the customer's list (no-op when already there) and records `opt_out.created`.
 * Returns the active opt-out and whether this call created it.
 */
export async function addOptOut(
  tx: Queryable,
  customerId: string,
  phone: string,
  source: OptOut['source'],
): Promise<{ optOut: OptOut; created: boolean }> {
  const { rows } = await tx.query<{ id: string; created_at: Date }>(
    `INSERT INTO opt_outs (customer_id, phone, source) VALUES ($1, $2, $3)
     ON CONFLICT (customer_id, phone) WHERE removed_at IS NULL DO NOTHING
     RETURNING id::text, created_at`,
    [customerId, phone, source],
  )
  const row = rows[0]
  if (!row) {
    const existing = await findOptOut(tx, customerId, phone)
    if (!existing) throw new Error('opt-out vanished while being added')
    return { optOut: existing, created: false }
  }
  const optOut: OptOut = { id: row.id, phone, source, createdAt: new Date(row.created_at) }
  const { rows: ev } = await tx.query<{ id: string; created_at: Date; hooked: boolean }>(
    `INSERT INTO customer_events (customer_id, type, data) VALUES ($1, 'opt_out.created', $2::jsonb)
     RETURNING id::text, created_at, ${subscribedEndpointSql('$1', "'opt_out.created'")} AS hooked`,
    [customerId, JSON.stringify(optOutObject(optOut))],
  )
  const e = ev[0] as { id: string; created_at: Date; hooked: boolean }
  if (e.hooked) {
    await enqueueEvent(tx, {
      customerId,
      eventId: customerEventId(e.id, new Date(e.created_at).getTime()),
      type: 'opt_out.created',
    })
  }
  return { optOut, created: true }
}

/** Ends the customer's opt-out of `phone`; false when it was not on the list. */
export async function removeOptOut(q: Queryable, customerId: string, phone: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE opt_outs SET removed_at = now() WHERE customer_id = $1 AND phone = $2 AND removed_at IS NULL',
    [customerId, phone],
  )
  return rowCount > 0
}

type Row = { id: string; phone: string; source: OptOut['source']; created_at: Date }
const toOptOut = (r: Row): OptOut => ({
  id: r.id,
  phone: r.phone,
  source: r.source,
  createdAt: new Date(r.created_at),
})

export async function findOptOut(
  q: Queryable,
  customerId: string,
  phone: string,
): Promise<OptOut | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT id::text, phone, source, created_at FROM opt_outs
      WHERE customer_id = $1 AND phone = $2 AND removed_at IS NULL`,
    [customerId, phone],
  )
  return rows[0] ? toOptOut(rows[0]) : undefined
}

/** The active list, newest first; `before` is the id of the last row of the previous page. */
export async function listOptOuts(
  q: Queryable,
  customerId: string,
  before: string | undefined,
  limit: number,
): Promise<OptOut[]> {
  const { rows } = await q.query<Row>(
    `SELECT id::text, phone, source, created_at FROM opt_outs
      WHERE customer_id = $1 AND removed_at IS NULL AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY id DESC LIMIT $3`,
    [customerId, before ?? null, limit],
  )
  return rows.map(toOptOut)
}

/** Which of `phones` are on the list: one index probe per phone, in one statement. */
export async function optedOutAmong(q: Queryable, customerId: string, phones: string[]): Promise<string[]> {
  const { rows } = await q.query<{ phone: string }>(
    `SELECT phone FROM opt_outs WHERE customer_id = $1 AND removed_at IS NULL AND phone = ANY($2::text[])`,
    [customerId, phones],
    { name: 'opt_outs_among' },
  )
  return rows.map((r) => r.phone)
}

/** The whole active list when it has at most `max` entries; undefined when longer. */
export async function activeOptOuts(
  q: Queryable,
  customerId: string,
  max: number,
): Promise<string[] | undefined> {
  const { rows } = await q.query<{ phone: string }>(
    'SELECT phone FROM opt_outs WHERE customer_id = $1 AND removed_at IS NULL LIMIT $2',
    [customerId, max + 1],
  )
  return rows.length > max ? undefined : rows.map((r) => r.phone)
}

/** Adds in one transaction (the API's POST). */
export const addOptOutTx = (db: Db, customerId: string, phone: string, source: OptOut['source']) =>
  db.transaction((tx) => addOptOut(tx, customerId, phone, source))
