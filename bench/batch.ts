// `npm run bench -- batch`: how long POST /v1/batches takes to accept (validate, template, price,
// charge all or nothing, write every message) for batches of given sizes, against a spawned
// gateway (`smsgw api`) on a fresh PostgreSQL database. Wall time per request, measured at the
// client; the machine's load average is printed with it because the numbers mean little without.
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { AcceptOptions } from './accept-options.ts'
import { AdminClient } from './admin-client.ts'
import { pgInfo, recreateDatabase } from './bench-db.ts'
import { parseOrUsage } from './cli-args.ts'
import { startGateway } from './gateway.ts'

/** Its own database: `accept` runs on smsgw_bench, and one must not drop the other's mid-run. */
const DATABASE = 'smsgw_bench_batch'

export const usage = `usage: npm run bench -- batch [options]

Accept time of POST /v1/batches (one templated body, distinct US recipients).
  --sizes N,N   batch sizes (default 1000,10000)
  --runs N      measured batches per size, after one warm-up batch (default 5)
  --pg-url URL  PostgreSQL server; a database smsgw_bench_batch is recreated (default
                postgres://postgres@127.0.0.1:5432/postgres)`

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '1000,10000' },
      runs: { type: 'string', default: '5' },
      'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
}

const recipients = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) => ({
    to: `+1415${String(2_000_000 + ((offset + i) % 8_000_000)).padStart(7, '0')}`,
    params: { name: `Customer ${offset + i}`, code: String((offset + i) % 10_000).padStart(4, '0') },
  }))

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() => parse(argv))
  if (values.help) {
    console.log(usage)
    return 0
  }
  const sizes = values.sizes.split(',').map(Number)
  const runs = Number(values.runs)
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000) || !Number.isInteger(runs) || runs < 1) {
    console.error(usage)
    return 2
  }
  const repoRoot = join(import.meta.dirname, '..')
  const options = { pgUrl: values['pg-url'], serverScript: 'bin/smsgw.js' } as AcceptOptions
  const dbUrl = await recreateDatabase(options.pgUrl, DATABASE)
  const pg = await pgInfo(dbUrl)
  console.log(`postgres ${pg.serverVersion}, synchronous_commit=${pg.synchronousCommit}`)
  const db = { dbUrl, pg }
  const gw = await startGateway(options, repoRoot, db)
  try {
    const admin = new AdminClient(gw.url, gw.adminToken)
    await admin.putRates()
    const customer = await admin.createCustomer('batch-bench')
    const total = sizes.reduce((s, n) => s + n, 0) * (runs + 1)
    await admin.addCredits(customer.id, ((total * 2 * 7900) / 1e6).toFixed(4))
    let offset = 0
    const post = async (n: number) => {
      const body = JSON.stringify({
        from: 'ACME',
        body: 'Hi ${name}, your code is ${code}',
        recipients: recipients(n, offset),
      })
      offset += n
      const started = performance.now()
      const res = await fetch(`${gw.url}/v1/batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${customer.apiKey}`, 'content-type': 'application/json' },
        body,
      })
      const text = await res.text()
      const ms = performance.now() - started
      if (res.status !== 202) throw new Error(`POST /v1/batches (${n}): ${res.status} ${text.slice(0, 300)}`)
      return ms
    }
    console.log(
      `load average before: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )
    console.log('recipients  runs  min ms  median ms  max ms  messages/s (median)')
    for (const n of sizes) {
      await post(n) // warm-up: JIT, prepared statements, pool
      const times: number[] = []
      for (let i = 0; i < runs; i++) times.push(await post(n))
      times.sort((a, b) => a - b)
      const median = times[Math.floor(times.length / 2)] as number
      console.log(
        `${String(n).padStart(10)}  ${String(runs).padStart(4)}  ${(times[0] as number).toFixed(0).padStart(6)}  ${median.toFixed(0).padStart(9)}  ${(times.at(-1) as number).toFixed(0).padStart(6)}  ${Math.round((n / median) * 1000)}`,
      )
    }
    console.log(
      `load average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )
    return 0
  } finally {
    await gw.stop()
  }
}
