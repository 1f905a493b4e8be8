// `npm run bench -- inbound`: MO messages per second through SMPP into stored + routed rows.
// The carrier simulator delivers MO as deliver_sm over one bind to a worker (SMPP connector →
// inbound handler → PostgreSQL); each send resolves on its deliver_sm_resp, which the gateway
// sends only after the message (or part) is committed. Bodies: single-part GSM-7 to numbers and
// keywords, and a share of 3-part UCS-2 (UDH) messages.
import { parseArgs } from 'node:util'
import { insertCustomer } from '../src/accounts/customers.ts'
import { createMemoryBus } from '../src/bus/memory-bus.ts'
import { simSmppCarrier } from '../src/carriers/config.ts'
import { createCarrier } from '../src/carriers/create-carrier.ts'
import { createCarrierSim } from '../src/carriers/sim/carrier-sim.ts'
import { assignNumber } from '../src/compliance/numbers-repository.ts'
import { migrate } from '../src/db/migrate.ts'
import { createPostgresDb } from '../src/db/postgres.ts'
import { createPipeline } from '../src/delivery/pipeline.ts'
import { createInboundHandler } from '../src/inbound/inbound-handler.ts'
import { runMaintenance } from '../src/maintenance/maintenance.ts'
import { recreateDatabase } from './bench-db.ts'
import { runBounded } from './bounded.ts'
import { parseOrUsage } from './cli-args.ts'
import { UsageError } from './usage-error.ts'

export const usage = `usage: npm run bench -- inbound [options]

MO throughput over SMPP into stored and routed inbound_messages (PostgreSQL).
options:
  --count <n>         MO messages sent (default 5000)
  --concurrency <n>   deliver_sm in flight (default 100; the SMSC's window)
  --multipart <0..1>  share of 3-part UCS-2 messages (default 0.1)
  --pg-url <url>      maintenance database URL (default postgres://postgres@127.0.0.1:5432/postgres)
  -h, --help`

const UCS2 = `Ответ: ${'Спасибо за заказ! '.repeat(10)}`

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        count: { type: 'string' },
        concurrency: { type: 'string' },
        multipart: { type: 'string' },
        'pg-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  )
  if (values.help) {
    console.log(usage)
    return 0
  }
  const count = Number(values.count ?? 5000)
  const concurrency = Number(values.concurrency ?? 100)
  const multipart = Number(values.multipart ?? 0.1)
  if (!(count > 0 && concurrency > 0 && multipart >= 0 && multipart <= 1))
    throw new UsageError('--count and --concurrency must be > 0, --multipart within 0..1')
  const url = await recreateDatabase(
    values['pg-url'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    'smsgw_bench_inbound',
  )
  const db = createPostgresDb({ url, poolSize: 10 })
  await migrate(db)
  await runMaintenance(db)
  const numbers: string[] = []
  for (let i = 0; i < 20; i++) {
    const c = await insertCustomer(db, {
      name: `c${i}`,
      tier: 'standard',
      rateLimitMps: 100,
      currency: 'USD',
    })
    const number = `+1415555${String(100 + i).padStart(4, '0')}`
    await assignNumber(db, { number, keyword: null, kind: 'long_code', customerId: c.id })
    await assignNumber(db, { number: '72345', keyword: `K${i}`, kind: 'short_code', customerId: c.id })
    numbers.push(number)
  }
  const sim = await createCarrierSim()
  const bus = createMemoryBus()
  const inbound = createInboundHandler({ db })
  const pipeline = createPipeline({
    db,
    bus,
    carriers: [simSmppCarrier('sim-smpp', sim.smppPort, { window: concurrency })],
    roles: { dispatcher: false, worker: true },
    makeCarrier: createCarrier,
    onInbound: (carrier, m) => inbound.handle(carrier, m),
  })
  await pipeline.start()
  try {
    const deadline = Date.now() + 10_000
    while (!pipeline.links.every((l) => l.carrier.healthy())) {
      if (Date.now() > deadline) throw new Error('SMPP did not bind')
      await new Promise((r) => setTimeout(r, 20))
    }
    let parts = 0
    const started = performance.now()
    await runBounded(count, concurrency, async (i) => {
      const long = (i * 7919) % 1000 < multipart * 1000
      // Keyword-routed on the shared code, or to a dedicated number (always, for the long ones).
      const keyword = !long && i % 2 === 0
      const to = keyword ? '72345' : (numbers[i % numbers.length] as string)
      const body = long ? UCS2 : keyword ? `K${i % 20} hello ${i}` : `hello ${i}`
      parts += long ? 3 : 1
      await sim.sendInbound(
        { from: `+1415666${String(i % 10_000).padStart(4, '0')}`, to, body },
        'smpp',
        'udh',
      )
    })
    const seconds = (performance.now() - started) / 1000
    const { rows } = await db.query<{ routed: string; total: string }>(
      `SELECT count(*) FILTER (WHERE customer_id IS NOT NULL)::text AS routed, count(*)::text AS total FROM inbound_messages`,
    )
    const r = rows[0] ?? { routed: '0', total: '0' }
    const report = {
      benchmark: 'inbound',
      messages: count,
      parts,
      concurrency,
      multipartShare: multipart,
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(count / seconds),
      partsPerSecond: Math.round(parts / seconds),
      stored: Number(r.total),
      routed: Number(r.routed),
    }
    console.log(JSON.stringify(report, null, 2))
    return report.stored === count && report.routed === count ? 0 : 1
  } finally {
    await pipeline.stop()
    await sim.close()
    await bus.close()
    await db.close()
  }
}
