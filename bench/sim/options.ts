// Command line of `npm run bench -- sim`.
import { parseArgs } from 'node:util'
import { parseOrUsage, targetOption } from '../cli-args.ts'
import { DEFAULT_NATS_URL, DEFAULT_PG_URL } from '../stack.ts'
import { UsageError } from '../usage-error.ts'
import { DEFAULT_MODEL } from './model.ts'

export interface SimOptions {
  durationS: number
  rate: number
  customers: number
  whales: number
  seed: number
  zipfS: number
  whaleShare: number
  connections: number
  drainS: number
  receiptDelayMs: number
  setupConcurrency: number
  outDir: string
  /** Checkout whose built smsgw the harness starts (a baseline's), default this one. */
  smsgwDir: string
  /** The harness's database, dropped and recreated (default smsgw_bench_sim). */
  database: string
  target: string | null
  adminToken: string | null
  pgUrl: string
  natsUrl: string
}

export const usage = `usage: npm run bench -- sim [options]

A traffic model against the whole pipeline: Zipf customers with a few whales flooding bulk mid-run,
everyday otp/high/normal traffic following a compressed day, short campaigns, a body mix (GSM-7,
GSM-7 extension characters, UCS-2, multipart) to six countries. Open loop. Writes a JSON result
and an HTML report.

options:
  --duration <s>            seconds of load (default 300)
  --rate <n>                mean offered msg/s over the run (default 300)
  --customers <n>           customers, whales included (default 20000)
  --whales <n>              biggest customers that flood bulk mid-run (default 5)
  --whale-share <0..1>      share of all messages sent by the whales (default ${DEFAULT_MODEL.whaleShare})
  --zipf-s <s>              Zipf exponent of customer volume (default ${DEFAULT_MODEL.zipfS})
  --seed <n>                seed of the traffic model (default 1)
  --connections <n>         HTTP connections of the sender (default 64)
  --drain <s>               longest wait after the load for messages to reach a final status (default 60)
  --receipt-delay-ms <n>    simulator receipt delay, subtracted from delivery latency (default 100;
                            with --target: the delay the target's carriers are known to have)
  --setup-concurrency <n>   admin requests in flight while creating customers (default 32)
  --out <dir>               directory of the JSON and HTML files (default bench/results/)
  --smsgw-dir <dir>         run smsgw from another checkout (built, with node_modules), e.g. a baseline
  --database <name>         the harness's database, dropped and recreated (default smsgw_bench_sim)
  --target <url>            a running gateway: only its admin API is used to create customers
  --admin-token <token>     its admin token (required with --target)
  --pg-url <url>            PostgreSQL maintenance URL (default ${DEFAULT_PG_URL})
  --nats <url>              NATS server (default ${DEFAULT_NATS_URL})
  -h, --help
`

function num(
  name: string,
  raw: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
  what: string,
) {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what}, got '${raw}'`)
  return n
}
const positiveInt = (n: number) => Number.isInteger(n) && n > 0
const nonNegativeInt = (n: number) => Number.isInteger(n) && n >= 0

/** Returns null when help was asked for. */
export function parseSimOptions(argv: string[], repoRoot: string): SimOptions | null {
  const { values } = parseOrUsage(() => parse(argv))
  if (values.help) return null
  const target = targetOption(values.target, values['admin-token'], true)
  const customers = num('customers', values.customers, 20_000, positiveInt, 'a positive integer')
  const whales = num('whales', values.whales, 5, nonNegativeInt, 'an integer ≥ 0')
  if (whales >= customers) throw new UsageError('--whales must be fewer than --customers')
  return {
    durationS: num('duration', values.duration, 300, positiveInt, 'a positive integer'),
    rate: num('rate', values.rate, 300, (n) => n > 0, 'a positive number'),
    customers,
    whales,
    seed: num('seed', values.seed, 1, Number.isInteger, 'an integer'),
    zipfS: num('zipf-s', values['zipf-s'], DEFAULT_MODEL.zipfS, (n) => n > 0, 'a positive number'),
    whaleShare: num(
      'whale-share',
      values['whale-share'],
      DEFAULT_MODEL.whaleShare,
      (n) => n >= 0 && n <= 0.9,
      'between 0 and 0.9',
    ),
    connections: num('connections', values.connections, 64, positiveInt, 'a positive integer'),
    drainS: num('drain', values.drain, 60, (n) => n >= 0, 'a number ≥ 0'),
    receiptDelayMs: num(
      'receipt-delay-ms',
      values['receipt-delay-ms'],
      100,
      nonNegativeInt,
      'an integer ≥ 0',
    ),
    setupConcurrency: num(
      'setup-concurrency',
      values['setup-concurrency'],
      32,
      positiveInt,
      'a positive integer',
    ),
    outDir: values.out ?? `${repoRoot}bench/results`,
    smsgwDir: values['smsgw-dir'] ?? repoRoot,
    database: values.database ?? 'smsgw_bench_sim',
    target,
    adminToken: values['admin-token'] ?? null,
    pgUrl: values['pg-url'] ?? DEFAULT_PG_URL,
    natsUrl: values.nats ?? DEFAULT_NATS_URL,
  }
}

function parse(argv: string[]) {
  const text = { type: 'string' } as const
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: text,
      rate: text,
      customers: text,
      whales: text,
      'whale-share': text,
      'zipf-s': text,
      seed: text,
      connections: text,
      drain: text,
      'receipt-delay-ms': text,
      'setup-concurrency': text,
      out: text,
      'smsgw-dir': text,
      database: text,
      target: text,
      'admin-token': text,
      'pg-url': text,
      nats: text,
      help: { type: 'boolean', short: 'h' },
    },
  })
}
