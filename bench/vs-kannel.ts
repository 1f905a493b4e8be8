// `npm run bench -- vs-kannel`: Kannel 1.4.5 and smsgw on the same work in one run — one customer,
// 100 keep-alive connections, the same SMSC simulator (../shared/kannel-bench/smsc-sim.js, 50 ms
// receipts), N messages, time from the first request to the last delivery receipt (Kannel: the
// last `s=1` dlr-url call at the sink; smsgw: the later of the last `delivered` status stored and
// the simulator's last receipt acknowledged, which smsgw sends only after that commit). smsgw runs
// as `smsgw start` (one process) and split (api, dispatcher, worker), on PostgreSQL and NATS
// JetStream with billing on. Prints the table, the ratio, CPU per message per process, WAL bytes
// and row writes per message, duplicates and losses; JSON and SVG charts in bench/results/.
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { AdminClient } from './admin-client.ts'
import { onCleanup, startWatchdog } from './cleanup.ts'
import { barChart } from './sim/svg.ts'
import { DEFAULT_NATS_URL, DEFAULT_PG_URL, startStack } from './stack.ts'
import { UsageError } from './usage-error.ts'
import {
  KANNEL_PASS,
  KANNEL_USER,
  kannelBenchDir,
  type SimStats,
  type SinkStats,
  startKannel,
  startSim,
} from './vs-kannel/kannel.ts'
import type { LoadOutput, LoadSpec } from './vs-kannel/load.ts'
import {
  CpuMeter,
  followWal,
  type RowWrites,
  rowWrites,
  rowWritesDelta,
  walBytesSince,
  walLsn,
} from './vs-kannel/meter.ts'

const DEFAULT_DATABASE = 'smsgw_bench_vs_kannel'

export const usage = `npm run bench -- vs-kannel [options]
  --messages N          messages per measured run (default 20000; the issue's figures use 50000)
  --runs N              runs of each system, interleaved; the table shows medians (default 1)
  --only LIST           comma-separated subset of kannel,single,split (default all three)
  --warmup N            messages sent and drained before each measured run (default 2000)
  --connections N       HTTP connections (default 100)
  --receipt-delay-ms N  simulator receipt delay (default 50)
  --kannel-bench DIR    the Kannel harness (default ../shared/kannel-bench beside the repo)
  --smsgw-dir DIR       run smsgw from another checkout (built), e.g. a baseline (default this one)
  --pg-url URL          admin URL of PostgreSQL (default ${DEFAULT_PG_URL})
  --database NAME       the run's database, dropped and recreated (default ${DEFAULT_DATABASE}; another
                        name lets two benches share one server)
  --nats URL            NATS server (default ${DEFAULT_NATS_URL})
  --out FILE            JSON result (default bench/results/vs-kannel-<time>.json; SVGs beside it)`

const REPO = join(import.meta.dirname, '..')
const SYSTEMS = ['kannel', 'single', 'split'] as const
type System = (typeof SYSTEMS)[number]
const WARMUP_SEQ = 1_000_000
const IDLE_S = 30
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits
const loadAvgNow = () => loadavg().map((x) => round(x, 2))

interface Options {
  messages: number
  warmup: number
  connections: number
  receiptDelayMs: number
  benchDir: string
  /** The checkout whose `bin/smsgw.js` (and built dist/) runs: another one for A/B comparisons. */
  smsgwDir: string
  pgUrl: string
  natsUrl: string
  /** The run's database (recreated for each run). */
  database: string
}

export interface RunResult {
  system: System
  run: number
  messages: number
  /** Unique messages delivered / seconds from the first request to the last receipt stored. */
  e2eMsgPerS: number
  endS: number
  http: { accepted: number; acceptedPerS: number; errors: number; p50Ms: number; p99Ms: number }
  submits: number
  duplicateSubmits: number
  duplicateReceipts: number
  lost: number
  cpuSeconds: Record<string, number>
  cpuUsPerMessage: Record<string, number>
  /** The gateway's own processes (Kannel: bearerbox + smsbox; smsgw: its processes, PostgreSQL, NATS). */
  gatewayUsPerMessage: number
  /** The run's database (pg_waldump) when reachable, else everything the server wrote. */
  walBytesPerMessage: number | null
  walSource: 'database' | 'machine' | null
  walMachineBytesPerMessage: number | null
  walByRelation: { relation: string; bytes: number; perMessage: number }[] | null
  rowWritesPerMessage: { inserts: number; updates: number; deletes: number } | null
  rowWrites: Record<string, RowWrites> | null
  billingExact: boolean | null
  loadAvg: { atStart: number[]; atEnd: number[] }
}

/** Not the gateway: the simulator, the DLR sink and the load generator are the harness. */
const HARNESS = new Set(['smsc-sim', 'dlr-sink', 'load'])

function runLoadProcess(spec: LoadSpec): Promise<LoadOutput> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'bench/vs-kannel/load.ts')],
    {
      cwd: REPO,
      env: { ...process.env, VS_LOAD: JSON.stringify(spec) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const drop = onCleanup(() => {
    child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000)
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      drop()
      if (code !== 0) return reject(new Error(`load generator exited with ${code}: ${err}`))
      resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadOutput)
    })
  })
}

/** Polls until `done`, or until nothing moved for IDLE_S seconds. */
async function waitDrain(probe: () => Promise<{ done: boolean; progress: string }>): Promise<void> {
  let last = ''
  let lastMove = Date.now()
  for (;;) {
    const { done, progress } = await probe()
    if (done) return
    if (progress !== last) {
      last = progress
      lastMove = Date.now()
    } else if (Date.now() - lastMove > IDLE_S * 1000) {
      console.error(`  no progress for ${IDLE_S} s (${progress}); giving up the wait`)
      return
    }
    await sleep(100)
  }
}

function perMessage(cpu: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([k, s]) => [k, Math.round((s / Math.max(1, n)) * 1e6)]))
}

function assertAllAccepted(load: LoadOutput, n: number, what: string): void {
  if (load.accepted !== n)
    throw new Error(
      `${what}: ${load.accepted}/${n} accepted (${load.errors} errors; first: ${load.firstError})`,
    )
}

async function runKannel(o: Options, run: number): Promise<RunResult> {
  const loadAvgStart = loadAvgNow()
  const sim = await startSim(o.benchDir, REPO, o.receiptDelayMs)
  try {
    const kannel = await startKannel(o.benchDir, sim)
    try {
      const spec = (n: number, startSeq: number): LoadSpec => ({
        target: 'kannel',
        base: kannel.sendsmsUrl,
        n,
        conc: o.connections,
        startSeq,
        kannel: { user: KANNEL_USER, pass: KANNEL_PASS, dlrBase: kannel.dlrBase },
      })
      if (o.warmup > 0) {
        assertAllAccepted(await runLoadProcess(spec(o.warmup, WARMUP_SEQ)), o.warmup, 'kannel warm-up')
        await waitDrain(async () => {
          const s = await kannel.sinkStats()
          return { done: s.delivered_unique >= o.warmup, progress: String(s.hits) }
        })
        await Promise.all([sim.reset(), kannel.resetSink()])
      }
      const meter = new CpuMeter(
        {
          bearerbox: kannel.bearerbox.pid,
          smsbox: kannel.smsbox.pid,
          'smsc-sim': sim.process.pid,
          'dlr-sink': kannel.sink.pid,
        },
        undefined,
        undefined,
        false,
      )
      await meter.start()
      const load = await runLoadProcess(spec(o.messages, 0))
      let simStats: SimStats | undefined
      let sink: SinkStats | undefined
      await waitDrain(async () => {
        ;[simStats, sink] = await Promise.all([sim.stats(), kannel.sinkStats()])
        return {
          done: sink.delivered_unique >= o.messages && simStats.submits >= o.messages,
          progress: `${simStats.submits}/${simStats.receipts_acked}/${sink.hits}`,
        }
      })
      const cpu = { ...(await meter.stop()), load: load.cpuS }
      await sleep(1000) // late duplicates
      ;[simStats, sink] = await Promise.all([sim.stats(), kannel.sinkStats()])
      const endS = (sink.last_delivered_ms - load.t0Ms) / 1000
      const uniqueSubmits = simStats.submits - simStats.dup_submits
      return {
        system: 'kannel',
        run,
        messages: o.messages,
        e2eMsgPerS: Math.round(sink.delivered_unique / endS),
        endS: round(endS, 3),
        http: httpFigures(load),
        submits: simStats.submits,
        duplicateSubmits: simStats.dup_submits,
        duplicateReceipts: sink.delivered_dup,
        lost: o.messages - Math.min(uniqueSubmits, sink.delivered_unique),
        cpuSeconds: cpu,
        cpuUsPerMessage: perMessage(cpu, sink.delivered_unique),
        gatewayUsPerMessage: gatewayUs(cpu, sink.delivered_unique),
        walBytesPerMessage: null,
        walSource: null,
        walMachineBytesPerMessage: null,
        walByRelation: null,
        rowWritesPerMessage: null,
        rowWrites: null,
        billingExact: null,
        loadAvg: { atStart: loadAvgStart, atEnd: loadAvgNow() },
      }
    } finally {
      await kannel.stop()
    }
  } finally {
    await sim.process.stop()
  }
}

function httpFigures(load: LoadOutput): RunResult['http'] {
  return {
    accepted: load.accepted,
    acceptedPerS: Math.round(load.accepted / ((load.lastResponseMs - load.t0Ms) / 1000)),
    errors: load.errors + Object.entries(load.status).reduce((n, [s, c]) => n + (s === '202' ? 0 : c), 0),
    p50Ms: load.latencyMs.p50,
    p99Ms: load.latencyMs.p99,
  }
}

function gatewayUs(cpu: Record<string, number>, n: number): number {
  const s = Object.entries(cpu)
    .filter(([k]) => !HARNESS.has(k))
    .reduce((sum, [, v]) => sum + v, 0)
  return Math.round((s / Math.max(1, n)) * 1e6)
}

async function runSmsgw(o: Options, split: boolean, run: number): Promise<RunResult> {
  const loadAvgStart = loadAvgNow()
  const sim = await startSim(o.benchDir, REPO, o.receiptDelayMs)
  const stack = await startStack({
    split,
    pgUrl: o.pgUrl,
    natsUrl: o.natsUrl,
    database: o.database,
    receiptDelayMs: o.receiptDelayMs,
    repoRoot: o.smsgwDir,
    // Kannel's SMSC link: one transceiver bind, 100 submits outstanding, no vendor TLV.
    carriers: [
      {
        name: 'smsc',
        type: 'smpp',
        host: '127.0.0.1',
        port: sim.smppPort,
        system_id: 'smsgw',
        password: 'pw',
        window: 100,
        weight: 100,
        message_id_tlv: false,
      },
    ],
  })
  const db = new pg.Client({ connectionString: stack.dbUrl })
  const admin = new pg.Client({ connectionString: o.pgUrl })
  await Promise.all([db.connect(), admin.connect()])
  try {
    const api = new AdminClient(stack.url, stack.adminToken)
    await api.putRates()
    const customer = await api.createCustomer('vs-kannel')
    await api.addCredits(customer.id, '1000000.00')
    const spec = (n: number, startSeq: number): LoadSpec => ({
      target: 'smsgw',
      base: stack.url,
      n,
      conc: o.connections,
      startSeq,
      apiKey: customer.apiKey,
    })
    if (o.warmup > 0) {
      assertAllAccepted(await runLoadProcess(spec(o.warmup, WARMUP_SEQ)), o.warmup, 'smsgw warm-up')
      await waitDrain(async () => {
        const s = await sim.stats()
        return { done: s.receipts_acked >= o.warmup, progress: `${s.submits}/${s.receipts_acked}` }
      })
      await sim.reset()
      // An idle backend reports its row counts up to 10 s late: wait, so the warm-up's are not the run's.
      await sleep(11_000)
    }
    const rowsBefore = await rowWrites(db)
    const lsn = await walLsn(admin)
    const wal = await followWal(admin, db, o.database, lsn)
    const meter = new CpuMeter(
      {
        ...Object.fromEntries(stack.processes.map((p) => [p.name, p.pid])),
        'smsc-sim': sim.process.pid,
      },
      admin,
      o.database,
      o.natsUrl,
    )
    await meter.start()
    const sampling = sampleMetrics(stack.url)
    const load = await runLoadProcess(spec(o.messages, 0))
    await sampling.stop()
    let simStats: SimStats | undefined
    // smsgw acknowledges a receipt only after the status it carries is committed.
    await waitDrain(async () => {
      simStats = await sim.stats()
      return {
        done: simStats.receipts_acked >= o.messages,
        progress: `${simStats.submits}/${simStats.receipts_acked}`,
      }
    })
    const cpu = { ...(await meter.stop()), load: load.cpuS }
    const walMachine = await walBytesSince(admin, lsn)
    const walOfRun = await wal?.finish(await walLsn(admin))
    await sleep(1000) // late duplicates
    simStats = await sim.stats()
    const t0 = new Date(load.t0Ms).toISOString()
    const { rows } = await db.query<Record<string, string | null>>(
      `SELECT (SELECT count(*) FROM messages WHERE created_at >= $1)::text AS accepted,
              (SELECT count(*) FROM messages WHERE created_at >= $1 AND status = 'delivered')::text AS delivered,
              (SELECT count(*) - count(DISTINCT message_id) FROM message_events
                WHERE created_at >= $1 AND status = 'delivered')::text AS dup_events,
              (SELECT extract(epoch FROM max(created_at)) * 1000 FROM message_events
                WHERE created_at >= $1 AND status = 'delivered')::text AS last_delivered_ms,
              (SELECT (c.balance = (SELECT sum(amount) FROM ledger l WHERE l.customer_id = c.id))
                  AND (SELECT count(*) FROM ledger l WHERE l.customer_id = c.id AND l.kind = 'charge')
                    = (SELECT count(*) FROM messages m WHERE m.customer_id = c.id)
                  AND (SELECT -sum(amount) FROM ledger l WHERE l.customer_id = c.id AND l.kind = 'charge')
                    = (SELECT sum(price_micros) FROM messages m WHERE m.customer_id = c.id)
                  AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.customer_id = c.id AND l.kind = 'refund')
                 FROM customers c WHERE c.id = $2)::text AS billing_exact`,
      [t0, customer.id],
    )
    const r = rows[0]!
    const delivered = Number(r.delivered)
    const endMs = Math.max(Number(r.last_delivered_ms ?? 0), simStats.last_receipt_ack_ms)
    const endS = (endMs - load.t0Ms) / 1000
    // Stopped before the row counts are read: a backend reports its last writes when it exits.
    for (const p of stack.processes) await p.stop()
    await sleep(500)
    const rowDelta = rowWritesDelta(rowsBefore, await rowWrites(db))
    const totals = Object.values(rowDelta).reduce(
      (t, w) => ({
        inserts: t.inserts + w.inserts,
        updates: t.updates + w.updates,
        deletes: t.deletes + w.deletes,
      }),
      { inserts: 0, updates: 0, deletes: 0 },
    )
    const per = (x: number) => round(x / Math.max(1, delivered), 2)
    return {
      system: split ? 'split' : 'single',
      run,
      messages: o.messages,
      e2eMsgPerS: Math.round(delivered / endS),
      endS: round(endS, 3),
      http: httpFigures(load),
      submits: simStats.submits,
      duplicateSubmits: simStats.dup_submits,
      duplicateReceipts: Number(r.dup_events),
      lost: o.messages - Math.min(delivered, simStats.submits - simStats.dup_submits),
      cpuSeconds: cpu,
      cpuUsPerMessage: perMessage(cpu, delivered),
      gatewayUsPerMessage: gatewayUs(cpu, delivered),
      walBytesPerMessage: Math.round((walOfRun?.bytes ?? walMachine) / Math.max(1, delivered)),
      walSource: walOfRun ? 'database' : 'machine',
      walMachineBytesPerMessage: Math.round(walMachine / Math.max(1, delivered)),
      walByRelation:
        walOfRun?.byRelation
          .slice(0, 25)
          .map((r) => ({ ...r, perMessage: round(r.bytes / Math.max(1, delivered)) })) ?? null,
      rowWritesPerMessage: {
        inserts: per(totals.inserts),
        updates: per(totals.updates),
        deletes: per(totals.deletes),
      },
      rowWrites: rowDelta,
      billingExact: r.billing_exact === 'true',
      loadAvg: { atStart: loadAvgStart, atEnd: loadAvgNow() },
    }
  } finally {
    await Promise.all([db.end(), admin.end()])
    for (const p of stack.processes) await p.stop()
    await sim.process.stop()
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

interface Summary {
  system: System
  runs: number
  e2eMsgPerS: number
  e2eEach: number[]
  vsKannel: number | null
  acceptedPerS: number
  p50Ms: number
  p99Ms: number
  gatewayUsPerMessage: number
  cpuUsPerMessage: Record<string, number>
  walBytesPerMessage: number | null
  rowWritesPerMessage: { inserts: number; updates: number; deletes: number } | null
  duplicates: number
  lost: number
  billingExact: boolean | null
}

function summarize(results: RunResult[]): Summary[] {
  const kannel = results.filter((r) => r.system === 'kannel')
  const kannelMedian = kannel.length ? median(kannel.map((r) => r.e2eMsgPerS)) : null
  return SYSTEMS.flatMap((system) => {
    const rs = results.filter((r) => r.system === system)
    if (rs.length === 0) return []
    const med = (f: (r: RunResult) => number) => median(rs.map(f))
    const procs = [...new Set(rs.flatMap((r) => Object.keys(r.cpuUsPerMessage)))]
    const e2e = med((r) => r.e2eMsgPerS)
    const withRows = rs.filter((r) => r.rowWritesPerMessage)
    return [
      {
        system,
        runs: rs.length,
        e2eMsgPerS: Math.round(e2e),
        e2eEach: rs.map((r) => r.e2eMsgPerS),
        vsKannel: kannelMedian ? round(e2e / kannelMedian, 2) : null,
        acceptedPerS: Math.round(med((r) => r.http.acceptedPerS)),
        p50Ms: med((r) => r.http.p50Ms),
        p99Ms: med((r) => r.http.p99Ms),
        gatewayUsPerMessage: Math.round(med((r) => r.gatewayUsPerMessage)),
        cpuUsPerMessage: Object.fromEntries(
          procs.map((p) => [p, Math.round(med((r) => r.cpuUsPerMessage[p] ?? 0))]),
        ),
        walBytesPerMessage: withRows.length
          ? Math.round(median(withRows.map((r) => r.walBytesPerMessage ?? 0)))
          : null,
        rowWritesPerMessage: withRows.length
          ? {
              inserts: median(withRows.map((r) => r.rowWritesPerMessage!.inserts)),
              updates: median(withRows.map((r) => r.rowWritesPerMessage!.updates)),
              deletes: median(withRows.map((r) => r.rowWritesPerMessage!.deletes)),
            }
          : null,
        duplicates: rs.reduce((n, r) => n + r.duplicateSubmits + r.duplicateReceipts, 0),
        lost: rs.reduce((n, r) => n + r.lost, 0),
        billingExact: system === 'kannel' ? null : rs.every((r) => r.billingExact),
      },
    ]
  })
}

const LABEL: Record<System, string> = { kannel: 'Kannel 1.4.5', single: 'smsgw start', split: 'smsgw split' }

function table(summaries: Summary[]): string {
  const cols: [string, (s: Summary) => string][] = [
    ['system', (s) => LABEL[s.system]],
    ['runs', (s) => String(s.runs)],
    ['e2e msg/s (median)', (s) => String(s.e2eMsgPerS)],
    ['each run', (s) => s.e2eEach.join(', ')],
    ['× Kannel', (s) => (s.vsKannel === null ? '-' : s.vsKannel.toFixed(2))],
    ['accepted/s', (s) => String(s.acceptedPerS)],
    ['HTTP p50/p99 ms', (s) => `${s.p50Ms} / ${s.p99Ms}`],
    ['gateway µs CPU/msg', (s) => String(s.gatewayUsPerMessage)],
    ['WAL B/msg', (s) => (s.walBytesPerMessage === null ? '-' : String(s.walBytesPerMessage))],
    [
      'rows ins/upd/del per msg',
      (s) =>
        s.rowWritesPerMessage
          ? `${s.rowWritesPerMessage.inserts} / ${s.rowWritesPerMessage.updates} / ${s.rowWritesPerMessage.deletes}`
          : '-',
    ],
    ['dups', (s) => String(s.duplicates)],
    ['lost', (s) => String(s.lost)],
    ['billing', (s) => (s.billingExact === null ? 'none' : s.billingExact ? 'exact' : 'WRONG')],
  ]
  const grid = [cols.map(([h]) => h), ...summaries.map((s) => cols.map(([, f]) => f(s)))]
  const widths = cols.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)))
  const lines = grid.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  '))
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  const cpu = summaries.map(
    (s) =>
      `  ${LABEL[s.system].padEnd(13)} ${Object.entries(s.cpuUsPerMessage)
        .sort((a, b) => b[1] - a[1])
        .map(([p, us]) => `${p} ${us}`)
        .join(', ')}`,
  )
  return `${lines.join('\n')}\n\nCPU µs per delivered message, by process (median):\n${cpu.join('\n')}`
}

const COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
]

function charts(summaries: Summary[], messages: number): { throughput: string; cpu: string } {
  const groups = summaries.map((s) => LABEL[s.system])
  const runs = Math.max(...summaries.map((s) => s.runs))
  const throughput = barChart({
    title: `End to end msg/s, ${messages} messages, 100 connections (median and each run)`,
    yLabel: 'msg/s',
    groups,
    series: [
      { name: 'median', color: COLORS[0]!, values: summaries.map((s) => s.e2eMsgPerS) },
      ...Array.from({ length: runs > 1 ? runs : 0 }, (_, i) => ({
        name: `run ${i + 1}`,
        color: COLORS[(i % (COLORS.length - 1)) + 1]!,
        values: summaries.map((s) => s.e2eEach[i] ?? 0),
      })),
    ],
  })
  const procs = [...new Set(summaries.flatMap((s) => Object.keys(s.cpuUsPerMessage)))]
  const cpu = barChart({
    title: 'CPU µs per delivered message, by process (median)',
    yLabel: 'µs/msg',
    groups,
    series: procs.map((p, i) => ({
      name: p,
      color: COLORS[i % COLORS.length]!,
      values: summaries.map((s) => s.cpuUsPerMessage[p] ?? 0),
    })),
    width: 1100,
  })
  return { throughput, cpu }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '20000' },
      runs: { type: 'string', default: '1' },
      only: { type: 'string', default: SYSTEMS.join(',') },
      warmup: { type: 'string', default: '2000' },
      connections: { type: 'string', default: '100' },
      'receipt-delay-ms': { type: 'string', default: '50' },
      'kannel-bench': { type: 'string', default: join(REPO, '../shared/kannel-bench') },
      'smsgw-dir': { type: 'string', default: REPO },
      'pg-url': { type: 'string', default: DEFAULT_PG_URL },
      database: { type: 'string', default: DEFAULT_DATABASE },
      nats: { type: 'string', default: DEFAULT_NATS_URL },
      out: { type: 'string' },
    },
  })
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`)
    return n
  }
  const only = String(values.only)
    .split(',')
    .map((s) => s.trim())
  for (const s of only)
    if (!SYSTEMS.includes(s as System)) throw new UsageError(`--only: unknown system '${s}'`)
  const o: Options = {
    messages: int('messages', values.messages, 1),
    warmup: int('warmup', values.warmup, 0),
    connections: int('connections', values.connections, 1),
    receiptDelayMs: int('receipt-delay-ms', values['receipt-delay-ms'], 0),
    // The SMSC simulator comes from the Kannel harness in every mode.
    benchDir: kannelBenchDir(String(values['kannel-bench'])),
    smsgwDir: String(values['smsgw-dir']),
    pgUrl: String(values['pg-url']),
    natsUrl: String(values.nats),
    database: String(values.database),
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(o.database))
    throw new UsageError('--database: lower-case letters, digits and _ only')
  if (o.messages + o.warmup > WARMUP_SEQ)
    throw new UsageError(`--messages + --warmup must stay below ${WARMUP_SEQ}`)
  const runs = int('runs', values.runs, 1)
  // Generous: three systems × runs × (start + load + drain), each bounded by its own waits.
  const stopWatchdog = startWatchdog(
    (runs * only.length * (120 + o.messages / 200) + 120) * 1000,
    'vs-kannel',
  )
  const loadAvgAtStart = loadAvgNow()
  const results: RunResult[] = []
  for (let r = 1; r <= runs; r++) {
    for (const system of SYSTEMS.filter((s) => only.includes(s))) {
      console.error(
        `run ${r}/${runs}: ${LABEL[system]} (${o.messages} messages, load ${loadAvgNow().join(' ')})`,
      )
      const result = system === 'kannel' ? await runKannel(o, r) : await runSmsgw(o, system === 'split', r)
      console.error(
        `  ${result.e2eMsgPerS} msg/s end to end, gateway ${result.gatewayUsPerMessage} µs CPU/msg, ` +
          `${result.duplicateSubmits + result.duplicateReceipts} dups, ${result.lost} lost`,
      )
      results.push(result)
    }
  }
  stopWatchdog()
  const summaries = summarize(results)
  console.log(
    `\nvs-kannel: HTTP → SMPP → receipt stored, one customer, ${o.connections} connections, ` +
      `${o.messages} messages, ${o.receiptDelayMs} ms receipts (load average ${loadAvgAtStart.join(' ')} → ${loadAvgNow().join(' ')})\n`,
  )
  console.log(table(summaries))
  const stamp = new Date().toISOString().replaceAll(':', '-')
  const out = values.out ? String(values.out) : join(REPO, 'bench/results', `vs-kannel-${stamp}.json`)
  writeFileSync(
    out,
    JSON.stringify(
      {
        options: { ...o, runs, only },
        loadAvg: { atStart: loadAvgAtStart, atEnd: loadAvgNow() },
        summaries,
        results,
      },
      null,
      2,
    ),
  )
  const svg = charts(summaries, o.messages)
  const base = out.replace(/\.json$/, '')
  writeFileSync(`${base}-throughput.svg`, svg.throughput)
  writeFileSync(`${base}-cpu.svg`, svg.cpu)
  console.log(`\nresults: ${out}\ncharts:  ${base}-throughput.svg, ${base}-cpu.svg`)
  const clean = summaries.every((s) => s.duplicates === 0 && s.lost === 0 && s.billingExact !== false)
  return clean ? 0 : 1
}

/**
 * With VS_KANNEL_METRICS=<file>: the api's /metrics lines about latency (event loop delay, accept
 * group commits, HTTP) every 2 s during the load, appended to the file — a diagnosis aid, off by
 * default (a scrape costs the server a little).
 */
function sampleMetrics(url: string): { stop(): Promise<void> } {
  const file = process.env.VS_KANNEL_METRICS
  if (!file) return { stop: async () => {} }
  const wanted =
    /^(nodejs_eventloop_lag|smsgw_billing_group|smsgw_http_request_duration|nodejs_gc_duration_seconds_sum)/
  let running = true
  const done = (async () => {
    while (running) {
      await sleep(2000)
      const text = await fetch(`${url}/metrics`).then(
        (r) => r.text(),
        () => '',
      )
      const lines = text.split('\n').filter((l) => wanted.test(l))
      appendFileSync(file, `# t=${new Date().toISOString()}\n${lines.join('\n')}\n`)
    }
  })()
  return {
    async stop() {
      running = false
      await done
    },
  }
}
