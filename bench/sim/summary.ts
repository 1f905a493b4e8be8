// The stdout summary of a sim run; the same rows head the HTML report. Measured figures only.
import type { StageLatencies } from './analyze.ts'
import { PRIORITIES } from './bodies.ts'
import type { SimResult } from './result.ts'
import type { Percentiles } from './stats.ts'

const int = (n: number) => Math.round(n).toLocaleString('en-US')

export function duration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(ms < 100 ? 1 : 0)} ms`
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
}

const p95 = (p: Percentiles) => (p.count === 0 ? 'no deliveries' : `${duration(p.p95)} (n=${int(p.count)})`)

const stages = (s: StageLatencies) =>
  `to claim ${duration(s.toClaim.p95)}, claim → sent ${duration(s.claimToSent.p95)}, sent → delivered ${duration(s.sentToDelivered.p95)}`

export function errorText(errors: Record<string, number>): string {
  const parts = Object.entries(errors)
    .filter(([, n]) => n > 0)
    .map(([code, n]) => `${code} × ${int(n)}`)
  return parts.length ? parts.join(', ') : 'none'
}

export function summaryRows(r: SimResult): [string, string][] {
  const a = r.analysis
  const t = a.throughput
  const d = a.deliveryLatencyMs
  const other = Object.entries(a.totals.otherFinal).map(([s, n]) => `${s} ${int(n)}`)
  const rec = r.reconciliation
  return [
    ['offered', `${int(t.offeredPerSec)} msg/s mean, ${int(t.peakOfferedPerSec)} peak second`],
    [
      'accepted (sustained)',
      `${int(t.acceptedPerSec)} msg/s over the load, ${int(t.peakAccepted10sPerSec)} best 10 s`,
    ],
    [
      'delivered (sustained)',
      `${int(t.deliveredPerSecDuringLoad)} msg/s during the load, ${int(t.deliveredPerSecOverall)} to the last delivery, ${int(t.peakDelivered10sPerSec)} best 10 s`,
    ],
    ['accept latency p50 / p99', `${duration(a.acceptLatencyMs.p50)} / ${duration(a.acceptLatencyMs.p99)}`],
    ...PRIORITIES.map((p): [string, string] => [`delivery p95 ${p}`, p95(d.byPriority[p])]),
    ['small customers p95, whales flooding', p95(d.smallDuringFloods)],
    ['small customers p95, no flood', p95(d.smallOutsideFloods)],
    ['whales p95', p95(d.whales)],
    ...(a.stagesMs.smallDuringFloods.toClaim.count > 0
      ? [
          ['small in floods p95 by stage', stages(a.stagesMs.smallDuringFloods)] as [string, string],
          ['whales p95 by stage', stages(a.stagesMs.whales)] as [string, string],
        ]
      : []),
    ['errors', errorText(r.errors)],
    [
      'cpu during the load',
      `sender ${r.cpuPct.sender.toFixed(0)} %, smsgw ${r.cpuPct.server === null ? '-' : `${r.cpuPct.server.toFixed(0)} %`}, ` +
        `machine ${r.cpuPct.machine.toFixed(0)} % (of ${r.machine.cpus * 100} %)`,
    ],
    [
      'messages',
      `${int(a.totals.offered)} offered, ${int(a.totals.accepted)} accepted, ${int(a.totals.delivered)} delivered` +
        (other.length ? `, ${other.join(', ')}` : ''),
    ],
    [
      'not final after drain',
      `${int(a.totals.notFinal)}${a.totals.missing ? ` (+ ${int(a.totals.missing)} not found)` : ''}; waited ${r.drain.waitedS.toFixed(0)} of ${r.drain.limitS} s`,
    ],
    [
      'reconciliation',
      rec === null
        ? 'not run (--target)'
        : rec.ran
          ? `${rec.ok ? 'pass' : 'FAIL'} (${rec.checks.filter((c) => !c.ok).length} of ${rec.checks.length} checks failed)`
          : `not run: ${rec.reason}`,
    ],
  ]
}

export function formatSummary(r: SimResult, files: { json: string; html: string }): string {
  const rows: [string, string][] = [...summaryRows(r), ['json', files.json], ['html', files.html]]
  const width = Math.max(...rows.map(([k]) => k.length))
  const head =
    `sim: ${r.options.durationS} s at ${r.options.rate} msg/s offered (open loop), ${int(r.options.customers)} customers, ` +
    `${r.options.whales} whales, seed ${r.options.seed}; ${r.target.mode === 'spawned' ? 'smsgw start on PostgreSQL + NATS JetStream + simulated carriers' : r.target.url}\n` +
    `delivery latency: accept (client, at the 2xx) → delivered, minus the ${r.receiptDelayMs} ms receipt delay; from ${r.latencySource}`
  return `${head}\n\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}`
}
