// `npm run bench -- sim`: a realistic traffic model against the whole pipeline (see bench/sim/model.ts),
// open loop, with a live progress line, then a JSON result and a self-contained HTML report.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AdminClient } from './admin-client.ts'
import { pgInfo } from './bench-db.ts'
import { startWatchdog } from './cleanup.ts'
import { machineBusySeconds, machineInfo } from './machine.ts'
import { processCpuSeconds } from './proc-cpu.ts'
import { setupCustomers } from './setup-customers.ts'
import { analyze } from './sim/analyze.ts'
import { BODY_KINDS, makeBodyPool, PRIORITIES } from './sim/bodies.ts'
import { COUNTRIES, mobileNumber, SIM_RATES } from './sim/destinations.ts'
import { type DriveResult, drive } from './sim/driver.ts'
import { renderHtml } from './sim/html.ts'
import { buildSchedule, DEFAULT_MODEL, planTraffic, type Schedule, type TrafficParams } from './sim/model.ts'
import { parseSimOptions, type SimOptions, usage as simUsage } from './sim/options.ts'
import {
  type Drain,
  drainApi,
  drainDb,
  type Outcomes,
  outcomesFromApi,
  outcomesFromDb,
} from './sim/outcomes.ts'
import { makeProgress, scrapeDelivered } from './sim/progress.ts'
import { pick, seededRandom } from './sim/random.ts'
import { type Reconciliation, reconcileRun } from './sim/reconcile-hook.ts'
import type { SimResult } from './sim/result.ts'
import { formatSummary } from './sim/summary.ts'
import { type Stack, startStack } from './stack.ts'

export const usage = simUsage

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const REQUEST_TIMEOUT_MS = 30_000
const BODY_POOL_SIZE = 256
const setupTimeoutMs = (customers: number) => Math.max(120_000, customers * 100)

export async function run(argv: string[]): Promise<number> {
  const o = parseSimOptions(argv, repoRoot)
  if (!o) {
    console.log(usage)
    return 0
  }
  startWatchdog(
    setupTimeoutMs(o.customers) + (o.durationS + o.drainS + 600) * 1000 + REQUEST_TIMEOUT_MS,
    'sim benchmark',
  )
  const startedAt = new Date()
  const machine = await machineInfo(repoRoot)
  if (machine.busyPctAtStart > 20) {
    console.error(
      `WARNING: ${machine.busyPctAtStart} % of a core busy before the start, the machine is not idle`,
    )
  }

  const params: TrafficParams = {
    ...DEFAULT_MODEL,
    durationS: o.durationS,
    rate: o.rate,
    customers: o.customers,
    whales: o.whales,
    zipfS: o.zipfS,
    whaleShare: o.whaleShare,
  }
  const random = seededRandom(o.seed)
  const plan = planTraffic(params, random)
  const schedule = buildSchedule(plan, random)
  const bodies = makeBodyPool(BODY_POOL_SIZE, random)
  console.error(
    `model: ${schedule.count} arrivals over ${o.durationS} s, ${plan.floods.length} whale floods, ` +
      `${plan.campaigns.length} campaigns, expected peak ${Math.round(Math.max(...plan.expectedPerSecond))} msg/s`,
  )

  const stack = o.target === null ? await startHarnessStack(o) : null
  const url = stack?.url ?? (await checkTarget(o.target!))
  const adminToken = stack?.adminToken ?? o.adminToken!
  const dbUrl = stack?.dbUrl ?? null
  try {
    if (dbUrl) machine.pg = await pgInfo(dbUrl)
    const admin = new AdminClient(url, adminToken)
    await admin.putRates(SIM_RATES)
    console.error(`creating ${o.customers} customers (${o.setupConcurrency} in flight)`)
    const setup = await setupCustomers(
      admin,
      o.customers,
      o.setupConcurrency,
      setupTimeoutMs(o.customers),
      `sim-${startedAt.getTime().toString(36)}`,
    )
    const keys = setup.customers.map((c) => c.apiKey)
    const payloadRandom = seededRandom(o.seed + 1)
    const payload = (i: number) => {
      const priority = PRIORITIES[schedule.priority[i]!]!
      return JSON.stringify({
        to: mobileNumber(COUNTRIES[schedule.country[i]!]!, payloadRandom),
        from: `SIM${schedule.customer[i]}`,
        body: pick(bodies[priority][schedule.kind[i]!]!, payloadRandom),
        priority,
      })
    }
    await preflight(url, keys[o.whales]!, payload(0))
    const since = new Date(Date.now() - 1000)

    console.error(`load: ${o.durationS} s, ${o.connections} connections`)
    const progress = makeProgress({
      totalS: o.durationS,
      stream: process.stderr,
      delivered: () => scrapeDelivered(url),
    })
    const cpu = cpuMeter(stack?.server.pid)
    let result: DriveResult
    try {
      result = await drive({
        url,
        schedule,
        apiKeys: keys,
        payload,
        connections: o.connections,
        maxOutstanding: 20_000,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        ...(stack ? { signal: stack.server.exitSignal } : {}),
        onTick: (t) => progress.tick(t),
      })
    } finally {
      progress.done()
    }
    const cpuPct = cpu()

    console.error(`load done; waiting up to ${o.drainS} s for final statuses`)
    const drain = await waitForDrain(o, url, dbUrl, schedule, result, keys)
    console.error(`reading final statuses from ${dbUrl ? 'the database' : 'GET /v1/messages'}`)
    const outcomes: Outcomes = dbUrl
      ? await outcomesFromDb(dbUrl)
      : await outcomesFromApi(url, customersWithAccepts(schedule, result, keys), since)
    let reconciliation: Reconciliation | null = null
    if (dbUrl) {
      console.error('reconciliation')
      reconciliation = await reconcileRun(dbUrl, drain.drained)
    }
    await stack?.server.stop()

    const analysis = analyze({
      plan,
      schedule,
      drive: result,
      outcomes: outcomes.byId,
      receiptDelayMs: o.receiptDelayMs,
    })
    const { adminToken: _secret, ...options } = o
    const pg = new URL(o.pgUrl)
    if (pg.password) pg.password = '***'
    const report: SimResult = {
      benchmark: 'sim',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      options: { ...options, pgUrl: pg.toString() },
      target: { mode: stack ? 'spawned' : 'external', url },
      machine,
      model: { seed: o.seed, params, floods: plan.floods, campaigns: plan.campaigns },
      setup: { customers: o.customers, seconds: setup.seconds },
      receiptDelayMs: o.receiptDelayMs,
      latencySource:
        outcomes.source === 'message_events'
          ? "message_events (the run's database)"
          : 'GET /v1/messages (updated_at of delivered messages)',
      drain,
      errors: result.errors,
      analysis,
      cpuPct,
      reconciliation,
      notes: notes(o, stack !== null),
    }
    const files = writeResult(o.outDir, startedAt, report)
    console.log(`\n${formatSummary(report, files)}`)
    if (reconciliation?.ran && !reconciliation.ok) return 1
    return analysis.totals.accepted > 0 ? 0 : 1
  } catch (err) {
    if (stack?.server.exitSignal.aborted) {
      throw new Error(
        `${(err as Error).message}\n--- smsgw output (last lines) ---\n${stack.server.outputTail()}\n---`,
      )
    }
    throw err
  }
}

async function startHarnessStack(o: SimOptions): Promise<Stack> {
  console.error(`starting smsgw (PostgreSQL database ${o.database}, own NATS stream, simulated carriers)`)
  return startStack({
    pgUrl: o.pgUrl,
    natsUrl: o.natsUrl,
    database: o.database,
    receiptDelayMs: o.receiptDelayMs,
    repoRoot: o.smsgwDir,
  })
}

async function checkTarget(url: string): Promise<string> {
  const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(10_000) }).catch(
    (err: Error) => {
      throw new Error(`--target ${url}: ${err.cause ?? err.message}`)
    },
  )
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`--target ${url}: GET /health/ready → ${res.status}`)
  return url
}

/** One request by hand first: if the contract is off, say why instead of minutes of errors. */
async function preflight(url: string, apiKey: string, body: string): Promise<void> {
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  if (res.status < 200 || res.status > 299) {
    throw new Error(`preflight POST /v1/messages → ${res.status}: ${text.slice(0, 500)}\nrequest: ${body}`)
  }
}

function waitForDrain(
  o: SimOptions,
  url: string,
  dbUrl: string | null,
  schedule: Schedule,
  result: DriveResult,
  keys: readonly string[],
): Promise<Drain> {
  let lastPrint = 0
  const onWait = (pending: number) => {
    if (performance.now() - lastPrint < 5000) return
    lastPrint = performance.now()
    console.error(
      `  ${pending.toLocaleString('en-US')} ${dbUrl ? 'messages' : 'probe messages'} not final yet`,
    )
  }
  if (dbUrl) return drainDb(dbUrl, o.drainS, onWait)
  // --target: the last 25 accepted messages of each lane stand for the rest.
  const probes: { id: string; apiKey: string }[] = []
  const perLane = new Map<number, number>()
  for (let i = schedule.count - 1; i >= 0; i--) {
    const id = result.ids[i]
    const lane = schedule.priority[i]!
    if (id === undefined || (perLane.get(lane) ?? 0) >= 25) continue
    perLane.set(lane, (perLane.get(lane) ?? 0) + 1)
    probes.push({ id, apiKey: keys[schedule.customer[i]!]! })
  }
  return drainApi(url, probes, o.drainS, onWait)
}

function customersWithAccepts(schedule: Schedule, result: DriveResult, keys: readonly string[]): string[] {
  const used = new Set<number>()
  for (let i = 0; i < schedule.count; i++) if (result.ids[i] !== undefined) used.add(schedule.customer[i]!)
  return [...used].map((c) => keys[c]!)
}

/** CPU used from now until the returned function is called, in % of one core. */
function cpuMeter(serverPid: number | undefined): () => SimResult['cpuPct'] {
  const wall = performance.now()
  const own = process.cpuUsage()
  const server = serverPid === undefined ? undefined : processCpuSeconds(serverPid)
  const machine = machineBusySeconds()
  return () => {
    const s = (performance.now() - wall) / 1000
    const ownUsed = process.cpuUsage(own)
    const serverNow = serverPid === undefined ? undefined : processCpuSeconds(serverPid)
    return {
      sender: ((ownUsed.user + ownUsed.system) / 1e6 / s) * 100,
      server: server !== undefined && serverNow !== undefined ? ((serverNow - server) / s) * 100 : null,
      machine: ((machineBusySeconds() - machine) / s) * 100,
    }
  }
}

function notes(o: SimOptions, spawned: boolean): string[] {
  const out = [
    'the sender, the server under test and PostgreSQL share this machine',
    'customers are created with rate_limit_mps 1,000,000, so the rate limiter never answers for the server',
    `body kinds: ${BODY_KINDS.join(', ')}; destinations: ${COUNTRIES.join(', ')}`,
    'the progress line\'s delivered/s comes from the server\'s smsgw_receipts_total{status="delivered"}; the report from final statuses',
  ]
  if (!spawned) {
    out.push(
      `--target: delivered times are the updated_at of delivered messages; the receipt delay subtracted (${o.receiptDelayMs} ms) is the one given, not checked`,
    )
  }
  return out
}

function writeResult(dir: string, startedAt: Date, report: SimResult): { json: string; html: string } {
  mkdirSync(dir, { recursive: true })
  const stamp = startedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z')
  const json = join(dir, `sim-${stamp}.json`)
  const html = join(dir, `sim-${stamp}.html`)
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(html, renderHtml(report))
  const shown = (p: string) => {
    const rel = relative(process.cwd(), p)
    return rel.startsWith('..') ? p : rel
  }
  return { json: shown(json), html: shown(html) }
}
