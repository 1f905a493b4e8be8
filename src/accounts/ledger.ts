import type { Queryable } from '../db/db.ts'
import { toMicros } from '../domain/money.ts'

export type LedgerKind = 'credit' | 'charge' | 'refund' | 'adjustment'

export interface LedgerEntry {
  id: number
  customerId: string
  kind: LedgerKind
  amountMicros: number
  balanceAfterMicros: number
  messageId: string | null
  reference: string | null
  createdAt: Date
}

interface LedgerRow {
  id: string | number
  customer_id: string
  kind: LedgerKind
  amount: string | number
  balance_after: string | number
  message_id: string | null
  reference: string | null
  created_at: Date
}

const COLUMNS = 'id, customer_id, kind, amount, balance_after, message_id, reference, created_at'

const fromRow = (r: LedgerRow): LedgerEntry => ({
  id: Number(r.id),
  customerId: r.customer_id,
  kind: r.kind,
  amountMicros: toMicros(r.amount),
  balanceAfterMicros: toMicros(r.balance_after),
  messageId: r.message_id,
  reference: r.reference,
  createdAt: new Date(r.created_at),
})

/**
 * Appends one entry and moves the balance with it. The caller's transaction must hold the
 * customer row lock (findCustomer(..., true)) so balance_after is exact.
 */
export async function appendEntry(
  tx: Queryable,
  e: {
    customerId: string
    kind: LedgerKind
    amountMicros: number
    balanceBeforeMicros: number
    messageId?: string
    reference?: string | null
  },
): Promise<LedgerEntry> {
  const after = e.balanceBeforeMicros + e.amountMicros
  if (!Number.isSafeInteger(after)) throw new RangeError('balance out of range')
  const { rows } = await tx.query<LedgerRow>(
    `INSERT INTO ledger (customer_id, kind, amount, balance_after, message_id, reference)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [e.customerId, e.kind, e.amountMicros, after, e.messageId ?? null, e.reference ?? null],
  )
  await tx.query('UPDATE customers SET balance = $2 WHERE id = $1', [e.customerId, after])
  return fromRow(rows[0] as LedgerRow)
}

/** A customer's ledger, oldest first, after the cursor id. */
export async function listLedger(
  q: Queryable,
  customerId: string,
  limit: number,
  after?: number,
): Promise<LedgerEntry[]> {
  const { rows } = await q.query<LedgerRow>(
    `SELECT ${COLUMNS} FROM ledger WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [customerId, after ?? 0, limit],
  )
  return rows.map(fromRow)
}
