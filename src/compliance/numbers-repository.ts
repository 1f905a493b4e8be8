// Numbers assigned to customers (migration 0014): dedicated long/short codes (keyword '') and
// keywords on shared short codes.

import type { Db, Queryable } from '../db/db.ts'

export type NumberKind = 'long_code' | 'short_code'

export interface AssignedNumber {
  number: string
  keyword: string | null
  kind: NumberKind
  customerId: string
  createdAt: Date
}

interface Row {
  number: string
  keyword: string
  kind: NumberKind
  customer_id: string
  created_at: Date
}

const toNumber = (r: Row): AssignedNumber => ({
  number: r.number,
  keyword: r.keyword === '' ? null : r.keyword,
  kind: r.kind,
  customerId: r.customer_id,
  createdAt: new Date(r.created_at),
})

/** Arbitrary namespace for the per-number assignment lock. */
const NUMBER_LOCK_NS = 7_200_731_014

export type AssignOutcome =
  | { kind: 'assigned'; number: AssignedNumber }
  | { kind: 'taken'; reason: string }
  | { kind: 'customer_not_found' }

/**
 * Assigns a number (keyword null) or a keyword on a shared short code. A number is either
 * dedicated to one customer or shared by keywords, never both; checked under a lock on the number.
 */
export async function assignNumber(
  db: Db,
  a: { number: string; keyword: string | null; kind: NumberKind; customerId: string },
): Promise<AssignOutcome> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($2, $1))', [NUMBER_LOCK_NS, a.number])
    const { rows: customer } = await tx.query('SELECT 1 FROM customers WHERE id = $1', [a.customerId])
    if (customer.length === 0) return { kind: 'customer_not_found' }
    const { rows: held } = await tx.query<Row>('SELECT * FROM numbers WHERE number = $1', [a.number])
    const keyword = a.keyword ?? ''
    if (held.some((r) => r.keyword === keyword))
      return {
        kind: 'taken',
        reason: a.keyword
          ? `Keyword ${a.keyword} on ${a.number} is already assigned`
          : `${a.number} is already assigned`,
      }
    if (keyword === '' && held.length > 0)
      return { kind: 'taken', reason: `${a.number} is a shared short code with keywords; release them first` }
    if (keyword !== '' && held.some((r) => r.keyword === ''))
      return { kind: 'taken', reason: `${a.number} is dedicated to one customer; it cannot carry keywords` }
    const { rows } = await tx.query<Row>(
      'INSERT INTO numbers (number, keyword, kind, customer_id) VALUES ($1, $2, $3, $4) RETURNING *',
      [a.number, keyword, a.kind, a.customerId],
    )
    return { kind: 'assigned', number: toNumber(rows[0] as Row) }
  })
}

/** Releases a number or one keyword on it; returns the released row's customer, or undefined. */
export async function releaseNumber(
  q: Queryable,
  number: string,
  keyword: string | null,
): Promise<string | undefined> {
  const { rows } = await q.query<{ customer_id: string }>(
    'DELETE FROM numbers WHERE number = $1 AND keyword = $2 RETURNING customer_id::text',
    [number, keyword ?? ''],
  )
  return rows[0]?.customer_id
}

/** Every assignment (admin), or one customer's, ordered by number then keyword; keyset-paginated. */
export async function listNumbers(
  q: Queryable,
  f: { customerId?: string; after?: { number: string; keyword: string } },
  limit: number,
): Promise<AssignedNumber[]> {
  const { rows } = await q.query<Row>(
    `SELECT * FROM numbers
      WHERE ($1::uuid IS NULL OR customer_id = $1)
        AND ($2::text IS NULL OR (number, keyword) > ($2, $3::text))
      ORDER BY number, keyword LIMIT $4`,
    [f.customerId ?? null, f.after?.number ?? null, f.after?.keyword ?? '', limit],
  )
  return rows.map(toNumber)
}

/** The numbers a customer may send from: dedicated ones and shared codes where it holds a keyword. */
export async function senderNumbersOf(q: Queryable, customerId: string): Promise<string[]> {
  const { rows } = await q.query<{ number: string }>(
    'SELECT DISTINCT number FROM numbers WHERE customer_id = $1',
    [customerId],
  )
  return rows.map((r) => r.number)
}

/** Every assignment of one number (its owner, or its keywords' owners). */
export async function assignmentsOf(q: Queryable, number: string): Promise<AssignedNumber[]> {
  const { rows } = await q.query<Row>('SELECT * FROM numbers WHERE number = $1', [number])
  return rows.map(toNumber)
}

export const numberObject = (n: AssignedNumber) => ({
  object: 'number' as const,
  number: n.number,
  type: n.kind,
  keyword: n.keyword,
  customer_id: n.customerId,
  created_at: n.createdAt.toISOString(),
})
