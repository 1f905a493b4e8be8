// `npm run bench -- accept-statement`: the accept fast path's statement alone (no HTTP), this
// checkout's against another's (--base-dir), interleaved, each run on a fresh database. On a busy
// shared machine HTTP throughput moves by ±50 % between runs of one build; the CPU of the
// PostgreSQL backends per message (from /proc) is what stays comparable.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { renderAccepted } from '../src/api/render.ts'
import type { acceptFast as AcceptFast } from '../src/billing/accept-fast.ts'
import type { AcceptRequest } from '../src/billing/types.ts'
import type { Db } from '../src/db/db.ts'
import { migrate } from '../src/db/migrate.ts'
import { ensurePartitions } from '../src/db/partitions.ts'
import { createPostgresDb } from '../src/db/postgres.ts'
import { acceptRequest, fundedCustomer } from '../test/helpers/messages.ts'
import { recreateDatabase } from './bench-db.ts'
import { parseOrUsage } from './cli-args.ts'
import { processCpuSeconds } from './proc-cpu.ts'
import { UsageError } from './usage-error.ts'

export const usage = `usage: npm run bench -- accept-statement [options]

The accept fast path's statement alone (src/billing/accept-fast.ts, no HTTP): groups of
--group-size messages, --in-flight groups at a time, from one customer (the hot case) or from
--customers picked with a skew. Each run gets a fresh database (migrated by this checkout) and
reports PostgreSQL CPU per message (its backends, /proc), this process's CPU per message (building
the statement's parameter, the driver), msg/s and the time a group took. With --base-dir, that
checkout's acceptFast runs in the same rounds, alternating (it must be a source checkout with
node_modules, run through tsx like this one).

options:
  --base-dir <dir>      another checkout to compare (default: none)
  --rounds <n>          rounds (default 3)
  --groups <n>          measured groups per run (default 200)
  --group-size <n>      messages per group (default 50)
  --in-flight <n>       groups in flight (default 2, SMSGW_GROUP_CONCURRENCY's default)
  --customers <n>       customers (default 1: the hot customer)
  --pg-url <url>        maintenance database URL (default postgres://postgres@127.0.0.1:5432/postgres);
                        the run's database is BENCH_DATABASE or smsgw_bench_statement
  -h, --help
`

type Accept = typeof AcceptFast

interface Options {
  baseDir: string | null
  rounds: number
  groups: number
  groupSize: number
  inFlight: number
  customers: number
  pgUrl: string
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive integer, got '${raw}'`)
  return n
}

function parse(argv: string[]): Options | null {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: argv,
      options: {
        'base-dir': { type: 'string' },
        rounds: { type: 'string' },
        groups: { type: 'string' },
        'group-size': { type: 'string' },
        'in-flight': { type: 'string' },
        customers: { type: 'string' },
        'pg-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  )
  if (values.help) return null
  return {
    baseDir: values['base-dir'] ? resolve(values['base-dir']) : null,
    rounds: positiveInt('rounds', values.rounds, 3),
    groups: positiveInt('groups', values.groups, 200),
    groupSize: positiveInt('group-size', values['group-size'], 50),
    inFlight: positiveInt('in-flight', values['in-flight'], 2),
    customers: positiveInt('customers', values.customers, 1),
    pgUrl: values['pg-url'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  }
}

const BODIES = [
  'Your code is 123456. It expires in 10 minutes. Do not share it.',
  'Hello from ACME: your parcel arrives tomorrow between 9 and 12.',
]

/** A request as the api composes it (test/helpers' shape): a US recipient from 10,000, a one-segment body. */
function request(customerId: string, n: number): AcceptRequest {
  const r = acceptRequest(customerId, { body: BODIES[n % 2] as string })
  r.message.to = `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`
  return r
}

const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0)

async function oneRun(options: Options, accept: Accept): Promise<string> {
  const dbName = process.env.BENCH_DATABASE || 'smsgw_bench_statement'
  const url = await recreateDatabase(options.pgUrl, dbName)
  const db: Db = createPostgresDb({ url, poolSize: options.inFlight })
  try {
    await migrate(db)
    await ensurePartitions(db)
    const customers: string[] = []
    for (let i = 0; i < options.customers; i++) {
      customers.push(await fundedCustomer(db, { name: `c${i}`, credit: 1e15 }))
    }
    // Cubed uniform: a few customers in most groups, as Zipf's head is.
    const group = () =>
      Array.from({ length: options.groupSize }, (_, n) =>
        request(customers[Math.floor(Math.random() ** 3 * customers.length)] as string, n),
      )
    const lanes = (groups: number, onGroup?: (ms: number) => void) =>
      Promise.all(
        Array.from({ length: options.inFlight }, async () => {
          for (let i = 0; i < groups / options.inFlight; i++) {
            const g = group()
            const t = performance.now()
            await accept(db, g, renderAccepted)
            onGroup?.(performance.now() - t)
          }
        }),
      )
    await lanes(10 * options.inFlight)
    await db.query('CHECKPOINT')
    const { rows } = await db.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend'`,
    )
    const pids = rows.map((r) => r.pid)
    const pgBefore = cpuOf(pids)
    const selfBefore = process.cpuUsage()
    const started = performance.now()
    let groupMs = 0
    await lanes(options.groups, (ms) => {
      groupMs += ms
    })
    const wallS = (performance.now() - started) / 1000
    const self = process.cpuUsage(selfBefore)
    const pgS = cpuOf(pids) - pgBefore
    const messages = options.groups * options.groupSize
    return (
      `PG ${((pgS / messages) * 1e6).toFixed(1)} µs/msg, node ${((self.user + self.system) / messages).toFixed(1)} µs/msg, ` +
      `${Math.round(messages / wallS)} msg/s, group ${(groupMs / options.groups).toFixed(1)} ms`
    )
  } finally {
    await db.close()
  }
}

export async function run(argv: string[]): Promise<number> {
  const options = parse(argv)
  if (!options) {
    console.log(usage)
    return 0
  }
  const builds: [string, Accept][] = [['this', (await import('../src/billing/accept-fast.ts')).acceptFast]]
  if (options.baseDir) {
    const file = join(options.baseDir, 'src', 'billing', 'accept-fast.ts')
    readFileSync(file) // fails early, with the path, if it is not a source checkout
    builds.unshift(['base', ((await import(file)) as { acceptFast: Accept }).acceptFast])
  }
  console.log(
    `accept statement: ${options.groups} groups of ${options.groupSize}, ${options.inFlight} in flight, ` +
      `${options.customers} customer(s); PG = CPU of its backends per message (/proc)`,
  )
  for (let r = 1; r <= options.rounds; r++) {
    for (const [name, accept] of builds) {
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0]
      console.log(`round ${r} ${name.padEnd(4)} load ${load}: ${await oneRun(options, accept)}`)
    }
  }
  return 0
}
