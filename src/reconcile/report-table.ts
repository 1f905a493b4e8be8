import type { ReconcileReport } from './reconcile.ts'

/** The report as an aligned table (check | result | found | detail), samples under failures, a verdict last. */
export function formatReport(r: ReconcileReport): string {
  const rows = r.checks.map((c) => [c.name, c.ok ? 'PASS' : 'FAIL', String(c.found), c.detail])
  const head = ['check', 'result', 'found', 'detail']
  const width = (i: number) => Math.max(...[head, ...rows].map((row) => (row[i] ?? '').length))
  const w = [width(0), width(1), width(2)]
  const line = (row: string[]) =>
    [
      (row[0] ?? '').padEnd(w[0] ?? 0),
      (row[1] ?? '').padEnd(w[1] ?? 0),
      (row[2] ?? '').padStart(w[2] ?? 0),
      row[3] ?? '',
    ].join('  ')
  const out = [line(head)]
  r.checks.forEach((c, i) => {
    out.push(line(rows[i] ?? []))
    if (!c.ok && c.samples.length > 0) out.push(`${' '.repeat((w[0] ?? 0) + 2)}e.g. ${c.samples.join(', ')}`)
  })
  const t = r.totals
  const statuses = Object.entries(t.byStatus)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ')
  out.push('')
  out.push(
    `messages: ${t.messages}${statuses ? ` (${statuses})` : ''}; pending ${t.pending}` +
      (t.oldestPendingS === null ? '' : `, oldest ${t.oldestPendingS} s`) +
      `; customers ${t.customers}; ledger entries ${t.ledgerEntries}`,
  )
  const failed = r.checks.filter((c) => !c.ok)
  out.push(
    failed.length === 0
      ? 'reconcile: PASS'
      : `reconcile: FAIL (${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.name).join(', ')})`,
  )
  return out.join('\n')
}
