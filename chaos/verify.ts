// The harness's own reconciliation, from its records, the database and the simulators: messages
// lost, duplicates at the carriers, money mismatches. It stands whether or not `smsgw reconcile`
// exists, and checks the client's side (every 202 id) that the database alone cannot.
import type pg from 'pg'
import type { SentMessage } from './load.ts'
import type { SimHandle } from './sims.ts'
import type { ScenarioResult } from './verdict.ts'

export type Findings = Pick<
  ScenarioResult,
  'accepted' | 'delivered' | 'final' | 'pending' | 'lost' | 'duplicates' | 'moneyMismatches' | 'clientErrors'
> & {
  details: {
    statuses: Record<string, number>
    missingIds: string[]
    stuck: { id: string; status: string }[]
    duplicateIds: Record<string, number>
    duplicated: { id: string; segments: number; status: string; carrier: string | null }[]
    simDuplicateCounters: number
    copiesComplete: boolean
    doubleCharges: { key: string; ids: string[] }[]
    ledgerBalanceMismatches: { customer_id: string; balance: string; ledger: string }[]
    messageChargeMismatches: {
      id: string
      status: string
      charged: string
      refunded: string
      price: string
    }[]
    unknownToClient: number
    clientErrorSamples: { key: string; error: string }[]
  }
}

const FINAL = new Set(['delivered', 'undelivered', 'failed', 'rejected', 'expired', 'canceled', 'unknown'])
const SAMPLES = 20

interface Row {
  id: string
  status: string
  client_reference: string | null
  carrier: string | null
}

export async function verify(opts: {
  pool: pg.Pool
  sent: readonly SentMessage[]
  sims: readonly SimHandle[]
  /** `sent` messages at this carrier are pending, not stuck (it never sends receipts). */
  silentCarrier?: string
}): Promise<Findings> {
  const { pool, sent } = opts
  const { rows } = await pool.query<Row>(
    `SELECT m.id, m.status, m.client_reference, d.carrier
       FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id`,
  )
  const byId = new Map(rows.map((r) => [r.id, r]))
  const statuses: Record<string, number> = {}
  for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1

  const accepted = sent.filter((m) => m.id !== undefined)
  const missingIds: string[] = []
  const stuck: { id: string; status: string }[] = []
  let delivered = 0
  let final = 0
  let pending = 0
  for (const m of accepted) {
    const r = byId.get(m.id!)
    if (!r) missingIds.push(m.id!)
    else if (FINAL.has(r.status)) {
      final++
      if (r.status === 'delivered') delivered++
    } else if (r.status === 'sent' && opts.silentCarrier && r.carrier === opts.silentCarrier) pending++
    else stuck.push({ id: r.id, status: r.status })
  }

  // A retried request must never create a second message: one message per idempotency key.
  const byKey = new Map<string, string[]>()
  for (const r of rows) {
    if (r.client_reference) byKey.set(r.client_reference, [...(byKey.get(r.client_reference) ?? []), r.id])
  }
  const doubleCharges = [...byKey].filter(([, ids]) => ids.length > 1).map(([key, ids]) => ({ key, ids }))
  const clientIds = new Set(accepted.map((m) => m.id!))
  const unknownToClient = rows.filter((r) => !clientIds.has(r.id)).length

  const { rows: ledgerBalanceMismatches } = await pool.query<{
    customer_id: string
    balance: string
    ledger: string
  }>(
    `SELECT c.id AS customer_id, c.balance::text, coalesce(sum(l.amount), 0)::text AS ledger
       FROM customers c LEFT JOIN ledger l ON l.customer_id = c.id
      GROUP BY c.id, c.balance HAVING c.balance <> coalesce(sum(l.amount), 0)`,
  )
  // Each message is charged its price exactly once, and refunded exactly when it ended failed,
  // rejected, expired or canceled without any carrier having taken it.
  const { rows: messageChargeMismatches } = await pool.query<{
    id: string
    status: string
    charged: string
    refunded: string
    price: string
  }>(
    `WITH l AS (
       SELECT message_id,
              coalesce(sum(-amount) FILTER (WHERE kind = 'charge'), 0) AS charged,
              count(*) FILTER (WHERE kind = 'charge') AS charges,
              coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded
         FROM ledger WHERE message_id IS NOT NULL GROUP BY message_id
     )
     SELECT m.id, m.status, coalesce(l.charged, 0)::text AS charged, coalesce(l.refunded, 0)::text AS refunded,
            m.price_micros::text AS price
       FROM messages m LEFT JOIN l ON l.message_id = m.id
      WHERE coalesce(l.charges, 0) <> 1 OR coalesce(l.charged, 0) <> m.price_micros
         OR coalesce(l.refunded, 0) <> CASE
              WHEN m.status IN ('failed', 'rejected', 'expired', 'canceled')
               AND NOT EXISTS (SELECT 1 FROM carrier_refs r WHERE r.message_id = m.id)
              THEN m.price_micros ELSE 0 END`,
  )

  // Duplicates: every accepted copy per message id across all simulators (one message sent once to
  // each of two carriers is a duplicate too), and the simulators' own counters as a floor.
  const reports = await Promise.all(opts.sims.map((s) => s.copies()))
  const counters = await Promise.all(opts.sims.map((s) => s.counters()))
  const copies = new Map<string, number>()
  for (const rep of reports)
    for (const [id, n] of Object.entries(rep.copies)) copies.set(id, (copies.get(id) ?? 0) + n)
  const duplicateIds = Object.fromEntries([...copies].filter(([, n]) => n > 1).map(([id, n]) => [id, n - 1]))
  const fromCopies = Object.values(duplicateIds).reduce((a, b) => a + b, 0)
  const simDuplicateCounters = counters.reduce(
    (sum, c) => sum + Object.values(c.duplicates).reduce((a, b) => a + b, 0),
    0,
  )
  // What the duplicated messages were (multipart? which final status?), for the bug report.
  const duplicated = (
    await pool.query<{ id: string; segments: number; status: string; carrier: string | null }>(
      `SELECT m.id, m.segments, m.status, d.carrier FROM messages m
         LEFT JOIN deliveries d ON d.message_id = m.id WHERE m.id = ANY($1::uuid[])`,
      [Object.keys(duplicateIds).slice(0, SAMPLES)],
    )
  ).rows
  const clientErrors = sent.filter((m) => m.error !== undefined)
  const lostIds = [...missingIds, ...stuck.map((s) => s.id)]
  return {
    accepted: accepted.length,
    delivered,
    final,
    pending,
    lost: lostIds.length,
    duplicates: Math.max(fromCopies, simDuplicateCounters),
    moneyMismatches:
      ledgerBalanceMismatches.length +
      messageChargeMismatches.length +
      doubleCharges.reduce((n, d) => n + d.ids.length - 1, 0),
    clientErrors: clientErrors.length,
    details: {
      statuses,
      missingIds: missingIds.slice(0, SAMPLES),
      stuck: stuck.slice(0, SAMPLES),
      duplicateIds: Object.fromEntries(Object.entries(duplicateIds).slice(0, SAMPLES)),
      duplicated,
      simDuplicateCounters,
      copiesComplete: reports.every((r) => r.complete),
      doubleCharges: doubleCharges.slice(0, SAMPLES),
      ledgerBalanceMismatches: ledgerBalanceMismatches.slice(0, SAMPLES),
      messageChargeMismatches: messageChargeMismatches.slice(0, SAMPLES),
      unknownToClient,
      clientErrorSamples: clientErrors.slice(0, SAMPLES).map((m) => ({ key: m.key, error: m.error! })),
    },
  }
}

/** Epoch ms of every delivered event, ascending (the input of the recovery time). */
export async function deliveredTimes(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ t: number }>(
    `SELECT (extract(epoch FROM created_at) * 1000)::float8 AS t FROM message_events
      WHERE status = 'delivered' ORDER BY 1`,
  )
  return rows.map((r) => Number(r.t))
}
