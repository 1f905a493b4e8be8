// `npm run bench -- e2e`: accept → delivered through the whole pipeline on real PostgreSQL and
// NATS JetStream with the SMPP/HTTP simulator (receipts on, billing on). Reports sustained
// delivered msg/s and accept→delivered latency net of the simulator's receipt delay.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { AdminClient } from './admin-client.ts'
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
  --customers N         customers, Zipf-distributed volume (default 1000)
  --receipt-delay-ms N  simulator receipt delay, subtracted from latency (default 100)
  --pg-url URL          admin URL of PostgreSQL (default postgres://postgres@127.0.0.1:5432/postgres)
  --nats URL            NATS server (default nats://127.0.0.1:4222)
  --split               each role in its own process (api, dispatcher, worker, carrier-sim)
                        instead of one smsgw start; reports CPU per process`

const REPO = join(import.meta.dirname, '..')

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '30' },
      connections: { type: 'string', default: '32' },
      customers: { type: 'string', default: '1000' },
      'receipt-delay-ms': { type: 'string', default: '100' },
      'pg-url': { type: 'string', default: DEFAULT_PG_URL },
      nats: { type: 'string', default: DEFAULT_NATS_URL },
      split: { type: 'boolean', default: false },
    },
  })
  const durationS = Number(values.duration)
  const customersN = Number(values.customers)
  const receiptDelayMs = Number(values['receipt-delay-ms'])
  const { url, adminToken, dbUrl, server, processes } = await startStack({
    split: values.split as boolean,
    pgUrl: values['pg-url'] as string,
    natsUrl: values.nats as string,
    database: 'smsgw_bench_e2e',
    receiptDelayMs,
    repoRoot: REPO,
  })
  const admin = new AdminClient(url, adminToken)
  await admin.putRates()
  const setup = await setupCustomers(admin, customersN, 32, 300_000)
  console.error(`setup: ${customersN} customers in ${setup.seconds.toFixed(1)} s`)
  const generator = makeGenerator(
    setup.customers.map((c) => c.apiKey),
    zipfPicker(makeZipf(customersN, 1.1)),
    makePayloadPool(4096),
  )
  const cpuAt = () => new Map(processes.map((p) => [p.name, processCpuSeconds(p.pid) ?? Number.NaN]))
  const cpuBefore = cpuAt()
  const loadStarted = performance.now()
  const load = await runLoad({
    name: 'e2e',
    url,
    connections: Number(values.connections),
    durationS,
    warmupS: 0,
    generator,
    serverPid: server.pid,
  })
  console.error(
    `accepted ${load.accepted} (${Math.round(load.acceptedPerSec)}/s); waiting for final statuses`,
  )
  const drainStarted = performance.now()
  const db = new pg.Client({ connectionString: dbUrl })
  await db.connect()
  try {
    const deadline = Date.now() + 180_000
    for (;;) {
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM messages WHERE status IN ('scheduled','queued','sending','sent')",
      )
      if (Number(rows[0]?.n) === 0 || Date.now() > deadline) break
      await new Promise((r) => setTimeout(r, 500))
    }
    // CPU of each process from the start of the load until everything was final: per delivered
    // message, it says what each role costs whatever the machine's other load.
    const cpuAfter = cpuAt()
    const wallS = (performance.now() - loadStarted) / 1000
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
    const net = (s: string | undefined) => Math.max(0, Number(s) * 1000 - receiptDelayMs)
    const result = {
      accepted: Number(r.accepted),
      delivered: Number(r.delivered),
      notDelivered: Number(r.other),
      acceptedPerSec: Math.round(load.acceptedPerSec),
      deliveredPerSec: Math.round(Number(r.delivered) / Number(r.span_s)),
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
      customers: customersN,
    }
    console.log(
      '\ne2e: accept → delivered (PostgreSQL + NATS JetStream + SMPP/HTTP simulator, receipts and billing on)',
    )
    console.log(JSON.stringify(result, null, 2))
    const out = join(REPO, 'bench/results', `e2e-${new Date().toISOString().replaceAll(':', '-')}.json`)
    writeFileSync(out, JSON.stringify(result, null, 2))
    console.log(`results: ${out}`)
    return result.notDelivered === 0 ? 0 : 1
  } finally {
    await db.end()
  }
}
