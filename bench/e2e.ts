// `npm run bench -- e2e`: accept → delivered through the whole pipeline on real PostgreSQL and
// NATS JetStream with the SMPP/HTTP simulator (receipts on, billing on). Reports sustained
// delivered msg/s and accept→delivered latency net of the simulator's receipt delay. With
// `--webhooks`, every customer (up to a cap) also has a webhook endpoint on an in-bench receiver,
// and the run reports webhooks/s, backlog, status change → received latency and CPU per webhook.
import { readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { AdminClient } from './admin-client.ts'
import { compareWebhooks } from './e2e-compare.ts'
import { rollupRowWrites, rollupStatements, startRollupProbe, waitRollupsCaughtUp } from './e2e-rollups.ts'
import {
  deliveryQueueState,
  deliveryStages,
  notFinal,
  type Receiver,
  registerEndpoints,
  startReceiver,
  type WebhookFigures,
  waitForWebhooks,
  webhookFigures,
} from './e2e-webhooks.ts'
import { makeGenerator, zipfPicker } from './generator.ts'
import { runLoad } from './load.ts'
import { makePayloadPool } from './payloads.ts'
import { processCpuSeconds } from './proc-cpu.ts'
import { setupCustomers } from './setup-customers.ts'
import { DEFAULT_NATS_URL, DEFAULT_PG_URL, startStack } from './stack.ts'
import { makeZipf } from './zipf.ts'

export const usage = `npm run bench -- e2e [options]
  --duration S          seconds of load (default 30)
  --connections N       concurrent HTTP connections (default 32)
  --rate N              offer N msg/s in all (default: closed loop, as fast as accepted)
  --customers N         customers, Zipf-distributed volume (default 1000)
  --receipt-delay-ms N  simulator receipt delay, subtracted from latency (default 100)
  --pg-url URL          admin URL of PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres)
  --nats URL            NATS server (default nats://127.0.0.1:4222)
  --database NAME       the run's database, dropped and made again (default smsgw_bench_e2e)
  --smsgw-dir DIR       run smsgw from another checkout (built), e.g. a baseline (default this one)
  --split               each role in its own process (api, dispatcher, worker, carrier-sim)
                        instead of one smsgw start; reports CPU per process
  --webhooks            one webhook endpoint per customer on an in-bench receiver (127.0.0.1);
                        reports webhooks/s, backlog, latency, CPU per webhook (split: adds a
                        smsgw webhooks process)
  --webhook-endpoints N endpoints for the N busiest customers only (default: all)
  --webhook-drain S     longest wait for the webhooks after the messages are final (default 300)
  --baseline FILE       e2e result JSON of a run without --webhooks (same options): adds the
                        throughput cost and, single-process, the CPU per webhook
  --compare N           N pairs of runs without and with webhooks, interleaved (ABBA order), in
                        one invocation: medians of delivered and accepted msg/s of each, the cost
                        of the feature, and each pair's figures (implies --webhooks on B runs)
  --database NAME       the run's database, dropped and recreated (default smsgw_bench_e2e)
  --smsgw-dir DIR       run the gateway from another checkout (built, with node_modules), e.g. a
                        base commit for an A/B of the same bench
  --rollup-interval-ms N  SMSGW_ROLLUP_INTERVAL_MS of the run (default: the server's, 10000);
                        3600000 holds the rollup passes off during the run (an A/B of their CPU)`

const REPO = join(import.meta.dirname, '..')

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '30' },
      connections: { type: 'string', default: '32' },
      rate: { type: 'string' },
      customers: { type: 'string', default: '1000' },
      'receipt-delay-ms': { type: 'string', default: '100' },
      'pg-url': { type: 'string', default: DEFAULT_PG_URL },
      nats: { type: 'string', default: DEFAULT_NATS_URL },
      split: { type: 'boolean', default: false },
      webhooks: { type: 'boolean', default: false },
      'webhook-endpoints': { type: 'string' },
      'webhook-drain': { type: 'string', default: '300' },
      baseline: { type: 'string' },
      compare: { type: 'string' },
      'rollup-interval-ms': { type: 'string' },
      database: { type: 'string', default: 'smsgw_bench_e2e' },
      'smsgw-dir': { type: 'string', default: REPO },
    },
  })
  const baseline = values.baseline ? readBaseline(values.baseline as string) : undefined
  if (values.compare) {
    return compareWebhooks(Number(values.compare), async (webhooksOn, without) => {
      const { code, result } = await runOnce(values, webhooksOn, without ?? baseline)
      return { code, result }
    })
  }
  return (await runOnce(values, values.webhooks as boolean, baseline)).code
}

type E2eValues = Record<string, string | boolean | undefined>

/** One run of the pipeline (stopped again at its end); exit code 0 when every message and webhook arrived. */
async function runOnce(
  values: E2eValues,
  webhooksOn: boolean,
  baseline: Baseline | undefined,
): Promise<{ code: number; result: E2eResult }> {
  const loadAvgAtStart = loadavg().map((x) => Math.round(x * 100) / 100)
  const durationS = Number(values.duration)
  const customersN = Number(values.customers)
  const receiptDelayMs = Number(values['receipt-delay-ms'])
  const { url, adminToken, dbUrl, server, processes } = await startStack({
    split: values.split as boolean,
    pgUrl: values['pg-url'] as string,
    natsUrl: values.nats as string,
    database: values.database as string,
    receiptDelayMs,
    repoRoot: values['smsgw-dir'] as string,
    webhooks: webhooksOn,
    ...(values['rollup-interval-ms']
      ? { env: { SMSGW_ROLLUP_INTERVAL_MS: values['rollup-interval-ms'] as string } }
      : {}),
  })
  const admin = new AdminClient(url, adminToken)
  await admin.putRates()
  const setup = await setupCustomers(admin, customersN, 32, 300_000)
  console.error(`setup: ${customersN} customers in ${setup.seconds.toFixed(1)} s`)
  let receiver: Receiver | undefined
  let hooked: string[] = []
  if (webhooksOn) {
    receiver = await startReceiver(REPO)
    const cap = Math.min(customersN, Number(values['webhook-endpoints'] ?? customersN))
    const started = performance.now()
    // Customers are ranked busiest first (Zipf rank = index), so a cap keeps the busiest.
    hooked = (await registerEndpoints(url, receiver, setup.customers.slice(0, cap))).map((c) => c.id)
    console.error(`webhooks: ${cap} endpoints in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  const generator = makeGenerator(
    setup.customers.map((c) => c.apiKey),
    zipfPicker(makeZipf(customersN, 1.1)),
    makePayloadPool(4096),
  )
  const measured = receiver ? [...processes, receiver.process] : processes
  const cpuAt = () => new Map(measured.map((p) => [p.name, processCpuSeconds(p.pid) ?? Number.NaN]))
  // The rollup role runs with the dispatcher (smsgw start: the one process).
  const dispatcherUrl = processes.find((p) => p.name === 'dispatcher')?.url ?? url
  const probe = await startRollupProbe(dbUrl, `${dispatcherUrl}/metrics`)
  const cpuBefore = cpuAt()
  const loadStarted = performance.now()
  const loadStartMs = Date.now()
  const load = await runLoad({
    name: 'e2e',
    url,
    connections: Number(values.connections),
    durationS,
    warmupS: 0,
    generator,
    serverPid: server.pid,
    ...(values.rate ? { overallRate: Number(values.rate) } : {}),
  })
  const loadEndMs = Date.now()
  console.error(
    `accepted ${load.accepted} (${Math.round(load.acceptedPerSec)}/s); waiting for final statuses`,
  )
  const drainStarted = performance.now()
  const db = new pg.Client({ connectionString: dbUrl })
  await db.connect()
  try {
    const deadline = Date.now() + 180_000
    for (;;) {
      if ((await notFinal(db)) === 0 || Date.now() > deadline) break
      await new Promise((r) => setTimeout(r, 500))
    }
    let webhooks: WebhookFigures | undefined
    if (receiver) {
      console.error('waiting for the webhooks')
      const deadlineMs = Number(values['webhook-drain']) * 1000
      const waited = await waitForWebhooks(receiver, db, hooked, { quietMs: 30_000, deadlineMs })
      webhooks = await webhookFigures(receiver, {
        endpoints: hooked.length,
        expected: waited.expected,
        loadStartMs,
        loadEndMs,
        queue: await deliveryQueueState(db),
        stages: await deliveryStages(db),
      })
    }
    // CPU of each process from the start of the load until everything was final: per delivered
    // message, it says what each role costs whatever the machine's other load. With webhooks, until
    // the last webhook arrived, so all their work is counted.
    const cpuAfter = cpuAt()
    const wallS = (performance.now() - loadStarted) / 1000
    const rollupsCaughtUpS = await waitRollupsCaughtUp(db)
    const freshness = await probe.stop()
    const cpuSeconds = [...cpuAfter].map(
      ([name, after]) => [name, after - (cpuBefore.get(name) ?? Number.NaN)] as const,
    )
    const { rows } = await db.query<Record<string, string>>(
      `WITH d AS (
         SELECT m.created_at, e.created_at AS delivered_at FROM messages m
           JOIN message_events e ON e.message_id = m.id AND e.status = 'delivered')
       SELECT (SELECT count(*) FROM messages)::text AS accepted,
              (SELECT count(*) FROM d)::text AS delivered,
              (SELECT count(*) FROM messages WHERE status NOT IN ('delivered'))::text AS other,
              extract(epoch FROM (SELECT max(delivered_at) - min(created_at) FROM d))::text AS span_s,
              (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)) FROM d)::text AS p50,
              (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)) FROM d)::text AS p95,
              (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)) FROM d)::text AS p99`,
    )
    const r = rows[0] as Record<string, string>
    const delivered = Number(r.delivered)
    const cpuSec = Object.fromEntries(cpuSeconds)
    const net = (s: string | undefined) => Math.max(0, Number(s) * 1000 - receiptDelayMs)
    const result = {
      accepted: Number(r.accepted),
      delivered: Number(r.delivered),
      notDelivered: Number(r.other),
      acceptedPerSec: Math.round(load.acceptedPerSec),
      deliveredPerSec: Math.round(delivered / Number(r.span_s)),
      latencyNetMs: { p50: Math.round(net(r.p50)), p95: Math.round(net(r.p95)), p99: Math.round(net(r.p99)) },
      receiptDelayMs,
      acceptLatencyMs: load.latencyMs,
      cpuPct: load.cpuPct,
      split: values.split as boolean,
      processCpu: Object.fromEntries(
        cpuSeconds.map(([name, sec]) => [
          name,
          {
            pctOfCore: Math.round((sec / wallS) * 100),
            usPerMessage: Math.round((sec / Math.max(1, Number(r.delivered))) * 1e6),
          },
        ]),
      ),
      drainS: Math.round((performance.now() - drainStarted) / 100) / 10,
      durationS,
      connections: Number(values.connections),
      rate: values.rate ? Number(values.rate) : null,
      customers: customersN,
      loadAvg: { atStart: loadAvgAtStart, atEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      rollups: {
        intervalMs: values['rollup-interval-ms'] ? Number(values['rollup-interval-ms']) : null,
        freshness,
        /** Seconds after the drain until the minute rollups counted every message and delivery. */
        caughtUpAfterDrainS: rollupsCaughtUpS,
        postgres: await rollupStatements(values['pg-url'] as string, values.database as string, delivered),
        // pg_stat_user_tables lags up to PGSTAT's flush (~1 s after a transaction): read after the catch-up.
        rowWrites: await rollupRowWrites(db, delivered),
      },
      webhooks: webhooks
        ? {
            ...webhooks,
            perMessage: Math.round((webhooks.received / Math.max(1, delivered)) * 100) / 100,
            cpu: webhookCpu(webhooks, cpuSec, delivered, values.split as boolean, baseline),
          }
        : null,
      baseline: baseline
        ? compareBaseline(baseline, delivered, Number(r.span_s), Number(load.acceptedPerSec))
        : null,
    }
    console.log(
      `\ne2e: accept → delivered (PostgreSQL + NATS JetStream + SMPP/HTTP simulator, receipts and billing on${webhooks ? ', webhooks on' : ''})`,
    )
    printSummary(result)
    console.log(JSON.stringify(result, null, 2))
    const out = join(REPO, 'bench/results', `e2e-${new Date().toISOString().replaceAll(':', '-')}.json`)
    writeFileSync(out, JSON.stringify(result, null, 2))
    console.log(`results: ${out}`)
    const webhooksOk = !webhooks || (webhooks.missing === 0 && webhooks.verifyFailed === 0)
    return { code: result.notDelivered === 0 && webhooksOk ? 0 : 1, result }
  } finally {
    await db.end()
    // The next run of a comparison recreates the database and must not share the machine.
    await Promise.all([...processes, ...(receiver ? [receiver.process] : [])].map((p) => p.stop()))
  }
}

/** What a comparison reads of a run. */
export interface E2eResult extends Omit<Baseline, 'file'> {
  loadAvg: { atStart: number[]; atEnd: number[] }
  webhooks:
    | (WebhookFigures & {
        cpu: { webhooksRoleUsPerWebhook: number | null; deltaVsBaselineUsPerWebhook: number | null }
      })
    | null
}

/** The parts of an earlier e2e result (without webhooks) that `--baseline` compares against. */
export interface Baseline {
  file: string
  deliveredPerSec: number
  acceptedPerSec: number
  split: boolean
  processCpu: Record<string, { usPerMessage: number }>
}

function readBaseline(file: string): Baseline {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Omit<Baseline, 'file'> & { webhooks?: unknown }
  if (typeof json.deliveredPerSec !== 'number' || typeof json.processCpu !== 'object') {
    throw new Error(`--baseline ${file}: not an e2e result`)
  }
  if (json.webhooks) throw new Error(`--baseline ${file}: that run had webhooks on`)
  return { ...json, file }
}

// Gateway processes: all but the simulated carrier and the receiver (the customers' side).
const NOT_GATEWAY = new Set(['carrier-sim', 'webhook-receiver'])

function gatewayUsPerMessage(cpu: Record<string, { usPerMessage: number }>): number {
  return Object.entries(cpu)
    .filter(([name]) => !NOT_GATEWAY.has(name))
    .reduce((sum, [, c]) => sum + c.usPerMessage, 0)
}

function webhookCpu(
  w: WebhookFigures,
  cpuSec: Record<string, number>,
  delivered: number,
  split: boolean,
  baseline: Baseline | undefined,
) {
  const us = (sec: number | undefined, n: number) =>
    sec === undefined ? null : Math.round((sec / Math.max(1, n)) * 1e6)
  const gatewaySec = Object.entries(cpuSec)
    .filter(([name]) => !NOT_GATEWAY.has(name))
    .reduce((sum, [, sec]) => sum + sec, 0)
  const gatewayPerMessage = (gatewaySec / Math.max(1, delivered)) * 1e6
  const comparable = baseline !== undefined && baseline.split === split
  return {
    /** split: the `smsgw webhooks` process's CPU per webhook received. */
    webhooksRoleUsPerWebhook: split ? us(cpuSec.webhooks, w.received) : null,
    /** Gateway CPU per delivered message with webhooks, minus the baseline's, per webhook. */
    deltaVsBaselineUsPerWebhook: comparable
      ? Math.round(
          ((gatewayPerMessage - gatewayUsPerMessage(baseline.processCpu)) * delivered) /
            Math.max(1, w.received),
        )
      : null,
    gatewayUsPerMessage: Math.round(gatewayPerMessage),
    baselineGatewayUsPerMessage: comparable ? gatewayUsPerMessage(baseline.processCpu) : null,
    /** The receiver's own CPU (verify + record), the customers' side. */
    receiverUsPerWebhook: us(cpuSec['webhook-receiver'], w.received),
  }
}

function compareBaseline(b: Baseline, delivered: number, spanS: number, acceptedPerSec: number) {
  const withPerSec = delivered / spanS
  return {
    file: b.file,
    deliveredPerSecWithout: b.deliveredPerSec,
    deliveredPerSecWith: Math.round(withPerSec),
    deliveredCostPct: Math.round((1 - withPerSec / b.deliveredPerSec) * 1000) / 10,
    acceptedPerSecWithout: b.acceptedPerSec,
    acceptedPerSecWith: Math.round(acceptedPerSec),
  }
}

function printSummary(r: {
  deliveredPerSec: number
  acceptedPerSec: number
  latencyNetMs: { p50: number; p95: number; p99: number }
  loadAvg: { atStart: number[]; atEnd: number[] }
  rollups: {
    freshness: Awaited<ReturnType<Awaited<ReturnType<typeof startRollupProbe>>['stop']>>
    caughtUpAfterDrainS: number | null
    postgres: Awaited<ReturnType<typeof rollupStatements>>
    rowWrites: Awaited<ReturnType<typeof rollupRowWrites>>
  }
  webhooks: (WebhookFigures & { perMessage: number; cpu: ReturnType<typeof webhookCpu> }) | null
  baseline: ReturnType<typeof compareBaseline> | null
}): void {
  const rows: [string, string][] = [
    ['accepted msg/s', String(r.acceptedPerSec)],
    ['delivered msg/s', String(r.deliveredPerSec)],
    [
      'accept → delivered p50/p95/p99 ms (net)',
      `${r.latencyNetMs.p50} / ${r.latencyNetMs.p95} / ${r.latencyNetMs.p99}`,
    ],
    ['load average start → end', `${r.loadAvg.atStart.join(' ')} → ${r.loadAvg.atEnd.join(' ')}`],
    [
      'rollup lag delivered / accepted max (p95) s',
      `${r.rollups.freshness.deliveredLagS.max} (${r.rollups.freshness.deliveredLagS.p95}) / ${r.rollups.freshness.acceptedLagS.max} (${r.rollups.freshness.acceptedLagS.p95})`,
    ],
    ['smsgw_rollup_lag_seconds max', String(r.rollups.freshness.gaugeMaxS ?? '-')],
    ['rollups caught up after drain s', String(r.rollups.caughtUpAfterDrainS ?? 'not within 120 s')],
    [
      'rollup statements µs PG time per delivered msg (calls)',
      r.rollups.postgres ? `${r.rollups.postgres.totalUsPerMessage} (${r.rollups.postgres.calls})` : '-',
    ],
    ['rollup statements buffers per delivered msg', String(r.rollups.postgres?.buffersPerMessage ?? '-')],
    [
      'rollup rows ins/upd/del per delivered msg',
      `${r.rollups.rowWrites.insPerMessage} / ${r.rollups.rowWrites.updPerMessage} / ${r.rollups.rowWrites.delPerMessage}`,
    ],
  ]
  const w = r.webhooks
  if (w) {
    rows.push(
      ['webhook endpoints', String(w.endpoints)],
      [
        'webhooks received / expected (unique)',
        `${w.received} / ${w.expected} (${w.perMessage} per message)`,
      ],
      ['duplicates, failed signatures', `${w.duplicates}, ${w.verifyFailed}`],
      [
        'webhooks/s during load (events produced/s)',
        `${w.receivedPerSecDuringLoad} (${w.producedPerSecDuringLoad})`,
      ],
      ['webhooks/s after load', String(w.receivedPerSecAfterLoad)],
      [
        'backlog at 25/50/75/100 % of load (max)',
        `${w.backlog.at25} / ${w.backlog.at50} / ${w.backlog.at75} / ${w.backlog.atLoadEnd} (${w.backlog.maxDuringLoad})`,
      ],
      ['drained after load end', `${w.drainAfterLoadS} s${w.keepsUp ? ' (keeps up)' : ' (backlog grew)'}`],
      [
        'status change → received p50/p95/p99/max ms',
        `${w.latencyMs.p50} / ${w.latencyMs.p95} / ${w.latencyMs.p99} / ${w.latencyMs.max}`,
      ],
      [
        '  message.delivered p50/p95/p99 ms',
        `${w.deliveredLatencyMs.p50} / ${w.deliveredLatencyMs.p95} / ${w.deliveredLatencyMs.p99}`,
      ],
      [
        'busiest endpoint: share, p50/p95 ms, backlog at load end',
        `${w.byEndpoint.busiest.sharePct} %, ${w.byEndpoint.busiest.p50} / ${w.byEndpoint.busiest.p95}, ${w.byEndpoint.busiest.backlogAtLoadEnd}`,
      ],
      [
        'other endpoints: p50/p95 ms, backlog at load end',
        `${w.byEndpoint.others.p50} / ${w.byEndpoint.others.p95}, ${w.byEndpoint.others.backlogAtLoadEnd}`,
      ],
      [
        'event → queued / → claimed / → sent / request p50 ms',
        `${w.stages.eventToQueued?.p50} / ${w.stages.queuedToClaimed?.p50} / ${w.stages.claimedToSent?.p50} / ${w.stages.request?.p50}`,
      ],
      [
        '  the same p95 ms',
        `${w.stages.eventToQueued?.p95} / ${w.stages.queuedToClaimed?.p95} / ${w.stages.claimedToSent?.p95} / ${w.stages.request?.p95}`,
      ],
      ['webhooks role µs CPU per webhook (split)', String(w.cpu.webhooksRoleUsPerWebhook ?? '-')],
      ['gateway µs CPU per webhook vs baseline', String(w.cpu.deltaVsBaselineUsPerWebhook ?? '-')],
      ['receiver µs CPU per webhook', String(w.cpu.receiverUsPerWebhook ?? '-')],
    )
  }
  const b = r.baseline
  if (b) {
    rows.push(
      [
        'delivered msg/s without → with webhooks',
        `${b.deliveredPerSecWithout} → ${b.deliveredPerSecWith} (cost ${b.deliveredCostPct} %)`,
      ],
      ['accepted msg/s without → with webhooks', `${b.acceptedPerSecWithout} → ${b.acceptedPerSecWith}`],
    )
  }
  const width = Math.max(...rows.map(([k]) => k.length))
  console.log(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}`)
}
