// A scenario's measured outcome, its verdict and the results table (pure, unit-tested).

export type ReconcileOutcome =
  | { status: 'pass' | 'fail'; checks: { name: string; ok: boolean; found?: unknown; detail?: unknown }[] }
  /** The `smsgw reconcile` command is not in this build yet; the harness's own checks stand alone. */
  | { status: 'unavailable'; detail: string }
  | { status: 'error'; detail: string }

export interface FaultRecovery {
  fault: string
  at: number
  recoveredAfterS: number | null
  lowestShare: number
}

export interface ScenarioResult {
  name: string
  description: string
  /** Messages the client got a 202 for. */
  accepted: number
  delivered: number
  /** Accepted messages in a final status. */
  final: number
  /** Accepted, not final, but legitimately waiting (at a carrier that never sends receipts). */
  pending: number
  /** 202 ids missing from the database or stuck non-final after the settle wait. */
  lost: number
  /** Extra copies of a message id accepted by the carriers (all simulators together). */
  duplicates: number
  /** Customers whose ledger does not sum to the balance, messages charged or refunded wrongly, double charges. */
  moneyMismatches: number
  /** Messages the client gave up on (never got a 202) — a client-visible failure. */
  clientErrors: number
  /** Worst (longest) recovery over the scenario's faults; null when one did not recover under load. */
  recoveryS: number | null
  recoveries: FaultRecovery[]
  /** Seconds from the end of load until every accepted message was settled; null: it never was. */
  settleS: number | null
  reconcile: ReconcileOutcome
  /** Webhook scenarios: delivery chains whose event the receiver never got (de-duplicated by id). */
  webhooksMissing?: number
  /** Webhook scenarios: requests the receiver could not verify with the endpoint's secret. */
  webhookBadSignatures?: number
  /** Gateway processes that exited by themselves (name: reason); each was started again. */
  crashes: string[]
  /** Set when the scenario itself could not run (a process would not start again, a timeout). */
  error?: string
  details: Record<string, unknown>
}

export interface Verdict {
  ok: boolean
  failures: string[]
}

export function verdictOf(r: ScenarioResult): Verdict {
  const failures: string[] = []
  if (r.error) failures.push(`did not complete: ${r.error}`)
  if (r.accepted === 0 && !r.error) failures.push('no message was accepted')
  if (r.lost > 0) failures.push(`${r.lost} accepted messages lost or stuck`)
  if (r.duplicates > 0) failures.push(`${r.duplicates} duplicate submits at the carriers`)
  if (r.moneyMismatches > 0) failures.push(`${r.moneyMismatches} money mismatches`)
  if (r.clientErrors > 0) failures.push(`${r.clientErrors} messages never accepted (client gave up)`)
  for (const c of r.crashes) failures.push(`process crashed: ${c}`)
  if (r.settleS === null && !r.error) failures.push('the system did not settle in time')
  if (r.reconcile.status === 'fail') {
    const bad = r.reconcile.checks.filter((c) => !c.ok).map((c) => c.name)
    failures.push(`reconcile failed: ${bad.join(', ') || 'not ok'}`)
  }
  if (r.reconcile.status === 'error') failures.push(`reconcile could not run: ${r.reconcile.detail}`)
  if ((r.webhooksMissing ?? 0) > 0)
    failures.push(`${r.webhooksMissing} webhook events never reached the receiver`)
  if ((r.webhookBadSignatures ?? 0) > 0)
    failures.push(`${r.webhookBadSignatures} webhooks with a bad signature`)
  return { ok: failures.length === 0, failures }
}

const fmtS = (s: number | null) => (s === null ? 'n/r' : s.toFixed(1))
const reconcileCell = (r: ReconcileOutcome) =>
  r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : r.status === 'error' ? 'ERROR' : 'n/a'

export const TABLE_HEADER = [
  'scenario',
  'accepted',
  'delivered/final',
  'pending',
  'lost',
  'duplicates',
  'money mismatches',
  'recovery s',
  'settle s',
  'reconcile',
  'verdict',
]

export function tableRow(r: ScenarioResult): string[] {
  return [
    r.name,
    String(r.accepted),
    `${r.delivered}/${r.final}`,
    String(r.pending),
    String(r.lost),
    String(r.duplicates),
    String(r.moneyMismatches),
    r.recoveries.length === 0 ? '—' : fmtS(r.recoveryS),
    fmtS(r.settleS),
    reconcileCell(r.reconcile),
    verdictOf(r).ok ? 'PASS' : 'FAIL',
  ]
}

/** A Markdown table (readable in a terminal too). */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = [TABLE_HEADER, ...results.map(tableRow)]
  const widths = TABLE_HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n')
}

/** The run passes only if every scenario passes (and at least one ran). */
export function runVerdict(results: readonly ScenarioResult[]): Verdict {
  const failures = results.flatMap((r) => verdictOf(r).failures.map((f) => `${r.name}: ${f}`))
  if (results.length === 0) failures.push('no scenario ran')
  return { ok: failures.length === 0, failures }
}
