// Receipts that matched no message when they arrived, kept in `parked_receipts` (migration 0007)
// until the carrier id is recorded or the parking bound passes. See docs/adr/0007-carrier-webhooks-and-parked-receipts.md.
import type { Receipt, ReceiptStatus } from '../carriers/carrier.ts'
import type { Queryable } from '../db/db.ts'

export interface ParkedReceipt {
  carrier: string
  receipt: Receipt
}

/** How long a receipt waits for its message before maintenance deletes it (default 24 h). */
export const PARKED_RECEIPT_TTL_S = 24 * 3600

/**
 * Parks receipts. A receipt already parked for the same part is replaced unless it was final and
 * the new one is only the intermediate `accepted`.
 */
export async function parkReceipts(q: Queryable, items: ParkedReceipt[]): Promise<void> {
  const unique = [...new Map(items.map((i) => [`${i.carrier}\u0000${i.receipt.carrierId}`, i])).values()]
  await q.query(
    `INSERT INTO parked_receipts (carrier, carrier_id, status, error_code, done_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
     ON CONFLICT (carrier, carrier_id) DO UPDATE
       SET status = EXCLUDED.status, error_code = EXCLUDED.error_code, done_at = EXCLUDED.done_at
       WHERE EXCLUDED.status <> 'accepted' OR parked_receipts.status = 'accepted'`,
    [
      unique.map((i) => i.carrier),
      unique.map((i) => i.receipt.carrierId),
      unique.map((i) => i.receipt.status),
      unique.map((i) => i.receipt.errorCode ?? null),
      unique.map((i) => i.receipt.doneAt?.toISOString() ?? null),
    ],
    { name: 'park_receipts' },
  )
}

interface Row {
  carrier: string
  carrier_id: string
  status: ReceiptStatus
  error_code: string | null
  done_at: Date | null
}

const toParked = (r: Row): ParkedReceipt => ({
  carrier: r.carrier,
  receipt: {
    carrierId: r.carrier_id,
    status: r.status,
    ...(r.error_code === null ? {} : { errorCode: r.error_code }),
    ...(r.done_at === null ? {} : { doneAt: new Date(r.done_at) }),
  },
})

/**
 * Parked receipts whose part is now recorded in carrier_refs: among `keys` when given (the ids
 * just recorded, or just parked), else the oldest `limit` of all (the sweep).
 */
export async function matchableParked(
  q: Queryable,
  keys?: { carrier: string; carrierId: string }[],
  limit = 1000,
): Promise<ParkedReceipt[]> {
  const select = `SELECT p.carrier, p.carrier_id, p.status, p.error_code, p.done_at
       FROM parked_receipts p JOIN carrier_refs c ON c.carrier = p.carrier AND c.carrier_id = p.carrier_id`
  const { rows } = keys
    ? await q.query<Row>(
        `${select} JOIN unnest($1::text[], $2::text[]) AS k(carrier, carrier_id)
            ON p.carrier = k.carrier AND p.carrier_id = k.carrier_id`,
        [keys.map((k) => k.carrier), keys.map((k) => k.carrierId)],
        { name: 'parked_matchable_keys' },
      )
    : await q.query<Row>(`${select} ORDER BY p.parked_at LIMIT $1`, [limit])
  return rows.map(toParked)
}

/** Removes parked receipts once applied; one replaced meanwhile by a newer status stays parked. */
export async function unparkReceipts(q: Queryable, items: ParkedReceipt[]): Promise<void> {
  if (items.length === 0) return
  await q.query(
    `DELETE FROM parked_receipts p USING unnest($1::text[], $2::text[], $3::text[]) AS x(carrier, carrier_id, status)
      WHERE p.carrier = x.carrier AND p.carrier_id = x.carrier_id AND p.status = x.status`,
    [items.map((i) => i.carrier), items.map((i) => i.receipt.carrierId), items.map((i) => i.receipt.status)],
  )
}

/** Deletes receipts parked longer than ttlS (maintenance); returns how many. */
export async function expireParkedReceipts(q: Queryable, ttlS = PARKED_RECEIPT_TTL_S): Promise<number> {
  const { rowCount } = await q.query(
    `DELETE FROM parked_receipts WHERE parked_at < now() - $1 * interval '1 second'`,
    [ttlS],
  )
  return rowCount
}

/** Receipts parked now (the `smsgw_receipts_parked` gauge). */
export async function countParkedReceipts(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: string }>('SELECT count(*)::text AS n FROM parked_receipts')
  return Number(rows[0]?.n ?? 0)
}
