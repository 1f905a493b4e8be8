// Turns a finished accept run into the stdout table and the JSON file under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AcceptOptions } from './accept-options.ts'
import type { LoadResult } from './load.ts'
import type { MachineInfo } from './machine.ts'

export interface ZipfInfo {
  s: number
  customers: number
  expectedTop1Share: number
  expectedTop10Share: number
  observedTop1Share: number
  observedTop10Share: number
  distinctCustomersHit: number
}

export interface AcceptReport {
  benchmark: 'accept'
  startedAt: string
  finishedAt: string
  /** The options of the run, without the admin token. */
  options: Omit<AcceptOptions, 'adminToken'>
  target: { mode: 'spawned' | 'external' | 'none'; url: string | null }
  machine: MachineInfo
  notes: string[]
  setup: { customers: number; seconds: number; perSecond: number } | null
  zipf: ZipfInfo | null
  scenarios: LoadResult[]
  /** Throughput ratios in %, null when a side was not run. */
  comparisons: { zipfVsBarePct: number | null; hotVsBarePct: number | null; hotVsZipfPct: number | null }
}

export const SHARED_MACHINE_NOTE =
  'the load generator (autocannon, one thread), the server under test and PostgreSQL share this machine; ' +
  'the numbers are what is left for the server after the generator takes its share, not the server alone'

export function ratioPct(a: LoadResult | undefined, b: LoadResult | undefined): number | null {
  if (!a || !b || b.acceptedPerSec === 0) return null
  return (a.acceptedPerSec / b.acceptedPerSec) * 100
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0))
const pct = (n: number | null) => (n === null ? '-' : `${n.toFixed(1)} %`)

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)))
  // First column left-aligned (names), the rest right-aligned (numbers).
  return rows
    .map((r) =>
      r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '),
    )
    .join('\n')
}

export function formatReport(report: AcceptReport, jsonPath: string): string {
  const { machine, options } = report
  const bare = report.scenarios.find((s) => s.name === 'bare')
  const lines: string[] = []
  lines.push(
    `accept path: POST /v1/messages, ${options.durationS} s measured after ${options.warmupS} s warm-up, ` +
      `${options.connections} connections`,
  )
  lines.push(
    `machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.platform} ${machine.kernel}, ` +
      `node ${machine.node}${machine.revision ? `, revision ${machine.revision}` : ''}`,
  )
  lines.push(
    machine.pg
      ? `postgres: ${machine.pg.serverVersion}, synchronous_commit=${machine.pg.synchronousCommit}`
      : 'postgres: not queried',
  )
  if (report.target.url) lines.push(`server: ${report.target.url} (${report.target.mode})`)
  lines.push(`note: ${SHARED_MACHINE_NOTE}`)
  if (report.setup) {
    lines.push(
      `setup: ${int(report.setup.customers)} customers created and funded in ${report.setup.seconds.toFixed(1)} s ` +
        `(${int(report.setup.perSecond)}/s)`,
    )
  }
  lines.push('')

  const rows = [
    [
      'scenario',
      'accepted/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'non-2xx',
      'errors/timeouts',
      'vs bare',
      'gen cpu',
      'srv cpu',
      'pg cpu',
      'other cpu',
      'srv µs/msg',
      'pg µs/msg',
    ],
  ]
  for (const s of report.scenarios) {
    rows.push([
      s.name,
      int(s.acceptedPerSec),
      ms(s.latencyMs.p50),
      ms(s.latencyMs.p90),
      ms(s.latencyMs.p99),
      ms(s.latencyMs.p99_9),
      int(s.non2xx),
      `${int(s.errors)}/${int(s.timeouts)}`,
      s.name === 'bare' ? '-' : pct(ratioPct(s, bare)),
      `${s.cpuPct.loadGenerator.toFixed(0)} %`,
      s.cpuPct.server === null ? '-' : `${s.cpuPct.server.toFixed(0)} %`,
      s.cpuPct.postgres == null ? '-' : `${s.cpuPct.postgres.toFixed(0)} %`,
      s.cpuPct.server === null
        ? '-'
        : `${Math.max(0, s.cpuPct.machine - s.cpuPct.loadGenerator - s.cpuPct.server - (s.cpuPct.postgres ?? 0)).toFixed(0)} %`,
      s.cpuUsPerAccepted?.server == null ? '-' : int(s.cpuUsPerAccepted.server),
      s.cpuUsPerAccepted?.postgres == null ? '-' : int(s.cpuUsPerAccepted.postgres),
    ])
  }
  lines.push(table(rows))
  lines.push('')
  if (report.comparisons.hotVsZipfPct !== null)
    lines.push(`hot vs zipf: ${pct(report.comparisons.hotVsZipfPct)}`)
  if (report.zipf) {
    const z = report.zipf
    lines.push(
      `zipf (s=${z.s}, ${int(z.customers)} customers): top customer sent ${pct(z.observedTop1Share * 100)} ` +
        `(expected ${pct(z.expectedTop1Share * 100)}), top 10 ${pct(z.observedTop10Share * 100)} ` +
        `(expected ${pct(z.expectedTop10Share * 100)}), ${int(z.distinctCustomersHit)} distinct customers`,
    )
  }
  for (const s of report.scenarios) {
    const codes = Object.entries(s.statusCodes).filter(([code]) => !code.startsWith('2'))
    if (codes.length > 0) {
      lines.push(`WARNING ${s.name}: non-2xx responses ${codes.map(([c, n]) => `${c}×${n}`).join(', ')}`)
    }
    if (s.errors > 0) lines.push(`WARNING ${s.name}: ${s.errors} request errors (${s.timeouts} timeouts)`)
  }
  lines.push(
    `latency: 2xx responses only; cpu: % of one core during the measured run (${machine.cpus} cores = ` +
      `${machine.cpus * 100} %); gen = load generator, srv = server process, pg = its PostgreSQL ` +
      'backends, other = the rest (PostgreSQL background processes, anything else running); µs/msg: CPU per accepted message',
  )
  lines.push(`results: ${jsonPath}`)
  return lines.join('\n')
}

export function writeReport(path: string, report: AcceptReport): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`)
}
