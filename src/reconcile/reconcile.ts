import type { Db, Queryable } from '../db/db.ts'
import { isFinalStatus } from '../domain/status.ts'
import { batchesConsistent, cancelsUnsent } from './batch-checks.ts'
import { checkFrom, type ReconcileCheck } from './check.ts'
import { nothingLost, recordedDoubleSends, statusesMonotone } from './message-checks.ts'
import {
  chargePerMessage,
  ledgerChain,
  ledgerMatchesBalance,
  noNegativeBalance,
  refundsMatchFailures,
} from './money-checks.ts'
import { optOutsHonoured } from './opt-out-checks.ts'
import { describeSims, readSims, simProblems } from './sim-counters.ts'
import { appendOnlyTriggers } from './trigger-check.ts'
import { usageMatchesLedger } from './usage-checks.ts'
import { webhooksDelivered } from './webhook-checks.ts'

export type { ReconcileCheck } from './check.ts'

export interface ReconcileOptions {
  db: Db
  /** Carrier simulators' HTTP base URLs; each one's GET <url>/counters must show no duplicates. Default none. */
  sims?: string[]
  /** The system is quiescent: every message not final (and not scheduled for later) is lost. Default false. */
  settled?: boolean
  /** Without `settled`, a pending message nothing has moved for this long is lost (stalled). Default 600. */
  stallAfterS?: number
  /** An opt-out reaches every api process's send screen within this long, s. Default 5. */
  optOutGraceS?: number
}

export interface ReconcileTotals {
  messages: number
  byStatus: Record<string, number>
  final: number
  /** Messages not final yet (whether waiting legitimately or lost). */
  pending: number
  /** Age of the oldest message not final, seconds; null when none. */
  oldestPendingS: number | null
  customers: number
  /** Sum of all balances, micro-units. */
  balanceMicros: number
  ledgerEntries: number
}

export interface ReconcileReport {
  ok: boolean
  checks: ReconcileCheck[]
  totals: ReconcileTotals
  settled: boolean
  checkedAt: string
}

/** The database has no smsgw schema (wrong URL, or never migrated). */
export class NoSchemaError extends Error {
  readonly code = 'no_schema'
}

const TABLES = ['customers', 'ledger', 'messages', 'message_events', 'outbox', 'deliveries', 'carrier_refs']

/**
 * Checks every DESIGN.md invariant that the stored data can show (and, with `sims`, the
 * simulators' duplicate counters). All checks read one snapshot (a REPEATABLE READ, READ ONLY
 * transaction), so a live system is judged at one instant; each check is one set-based
 * statement.
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const settled = opts.settled ?? false
  const stallAfterS = opts.stallAfterS ?? 600
  const simsRead = readSims(opts.sims ?? [])
  const { checks, totals } = await opts.db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
    await requireSchema(tx)
    const totals = await readTotals(tx)
    const readings = await simsRead
    const checks: ReconcileCheck[] = [
      await ledgerMatchesBalance(tx, totals.customers),
      await noNegativeBalance(tx),
      await ledgerChain(tx),
      await chargePerMessage(tx, totals.messages),
      await refundsMatchFailures(tx),
      await nothingLost(tx, { settled, stallAfterS }),
      checkFrom(
        'no_double_send',
        [...(await recordedDoubleSends(tx)), ...simProblems(readings)],
        `no message recorded twice at a carrier; ${describeSims(readings)}`,
      ),
      await statusesMonotone(tx),
      await appendOnlyTriggers(tx),
      await webhooksDelivered(tx, { settled, stallAfterS }),
      await usageMatchesLedger(tx),
      await batchesConsistent(tx),
      await cancelsUnsent(tx),
      await optOutsHonoured(tx, { graceS: opts.optOutGraceS ?? 5 }),
    ]
    return { checks, totals }
  })
  return { ok: checks.every((c) => c.ok), checks, totals, settled, checkedAt: new Date().toISOString() }
}

async function requireSchema(q: Queryable): Promise<void> {
  const { rows } = await q.query<{ missing: string[] }>(
    'SELECT ARRAY(SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL) AS missing',
    [TABLES],
  )
  const missing = rows[0]?.missing ?? TABLES
  if (missing.length > 0)
    throw new NoSchemaError(`not an smsgw database (no ${missing.join(', ')}); run smsgw migrate first?`)
}

async function readTotals(q: Queryable): Promise<ReconcileTotals> {
  const { rows } = await q.query<{ status: string; n: number; oldest_s: number | null }>(
    `SELECT status, count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest_s
       FROM messages GROUP BY status ORDER BY status`,
  )
  const { rows: money } = await q.query<{ customers: number; balance: string; entries: string }>(
    `SELECT (SELECT count(*)::int FROM customers) AS customers,
            (SELECT coalesce(sum(balance), 0)::text FROM customers) AS balance,
            (SELECT count(*)::text FROM ledger) AS entries`,
  )
  const byStatus: Record<string, number> = {}
  let final = 0
  let oldest: number | null = null
  for (const r of rows) {
    const n = Number(r.n)
    byStatus[r.status] = n
    if (isFinalStatus(r.status)) final += n
    else if (r.oldest_s !== null) oldest = Math.max(oldest ?? 0, Math.max(0, Number(r.oldest_s)))
  }
  const messages = Object.values(byStatus).reduce((s, n) => s + n, 0)
  return {
    messages,
    byStatus,
    final,
    pending: messages - final,
    oldestPendingS: oldest === null ? null : Math.round(oldest),
    customers: Number(money[0]?.customers ?? 0),
    balanceMicros: Number(money[0]?.balance ?? 0),
    ledgerEntries: Number(money[0]?.entries ?? 0),
  }
}
