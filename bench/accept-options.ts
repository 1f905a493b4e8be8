// Command line of `npm run bench -- accept`.
import { parseArgs } from 'node:util'
import { parseOrUsage, targetOption } from './cli-args.ts'
import { UsageError } from './usage-error.ts'

export const SCENARIOS = ['bare', 'zipf', 'hot'] as const
export type Scenario = (typeof SCENARIOS)[number]

export interface AcceptOptions {
  scenarios: Scenario[]
  durationS: number
  warmupS: number
  connections: number
  customers: number
  zipfS: number
  setupConcurrency: number
  /** Numbers put on the opt-out list of the first tenant (the hot one, zipf's busiest); 0 = none. */
  optOuts: number
  /** Base URL of an already-running gateway; when set nothing is spawned and no database is made. */
  target: string | null
  adminToken: string | null
  /** Maintenance connection used to (re)create the bench database and read its settings. */
  pgUrl: string
  pgUrlGiven: boolean
  serverScript: string
  out: string | null
}

export const acceptUsage = `usage: npm run bench -- accept [options]

Load benchmark of the accept path (POST /v1/messages). Scenarios, in this order:
  bare   bare Fastify route in a child process: the ceiling on this machine
  zipf   one message per request from --customers tenants, Zipf-skewed volume
  hot    every request from a single tenant

options:
  --duration <s>            measured seconds per scenario (default 20)
  --warmup <s>              discarded warm-up seconds before each scenario (default 3)
  --connections <n>         concurrent HTTP connections (default 100)
  --customers <n>           tenants created for zipf (default 10000)
  --zipf-s <s>              Zipf exponent (default 1.1)
  --setup-concurrency <n>   admin requests in flight while creating tenants (default 32)
  --opt-outs <n>            put n numbers on the opt-out list of the first tenant (hot, and the
                            busiest of zipf) before the load: the send screen with a long list
                            (default 0; needs the bench database, so not with --target)
  --only <list>             comma-separated subset of bare,zipf,hot
  --skip-bare, --skip-hot, --skip-zipf
  --target <url>            use a running gateway (no spawn, no database setup)
  --admin-token <token>     its admin token (required with --target)
  --pg-url <url>            maintenance database URL
                            (default postgres://postgres@127.0.0.1:5432/postgres;
                            with --target only used, if given, to read synchronous_commit)
  --server-script <path>    gateway entry point to spawn (default bin/smsgw.js)
  --out <file>              JSON result path (default bench/results/accept-<timestamp>.json)
  -h, --help
`

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

function positive(name: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${raw}'`)
  }
  return n
}

function scenarioList(raw: string): Scenario[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new UsageError(`--only: unknown scenario '${name}' (known: ${SCENARIOS.join(', ')})`)
    }
  }
  return SCENARIOS.filter((s) => names.includes(s))
}

/** Returns null when help was asked for. */
export function parseAcceptOptions(argv: string[]): AcceptOptions | null {
  const { values } = parseOrUsage(() => parse(argv))
  if (values.help) return null

  let scenarios: Scenario[] = values.only ? scenarioList(values.only) : [...SCENARIOS]
  if (values['skip-bare']) scenarios = scenarios.filter((s) => s !== 'bare')
  if (values['skip-zipf']) scenarios = scenarios.filter((s) => s !== 'zipf')
  if (values['skip-hot']) scenarios = scenarios.filter((s) => s !== 'hot')
  if (scenarios.length === 0) throw new UsageError('no scenario left to run')

  const needsGateway = scenarios.some((s) => s !== 'bare')
  const target = targetOption(values.target, values['admin-token'], needsGateway)
  if (target !== null && values['opt-outs'] !== undefined && values['opt-outs'] !== '0')
    throw new UsageError('--opt-outs seeds the bench database: it cannot be used with --target')

  return {
    scenarios,
    durationS: positive('duration', values.duration, 20, false),
    warmupS: values.warmup === '0' ? 0 : positive('warmup', values.warmup, 3, false),
    connections: positive('connections', values.connections, 100, true),
    customers: positive('customers', values.customers, 10_000, true),
    zipfS: positive('zipf-s', values['zipf-s'], 1.1, false),
    setupConcurrency: positive('setup-concurrency', values['setup-concurrency'], 32, true),
    optOuts:
      values['opt-outs'] === undefined || values['opt-outs'] === '0'
        ? 0
        : positive('opt-outs', values['opt-outs'], 0, true),
    target,
    adminToken: values['admin-token'] ?? null,
    pgUrl: values['pg-url'] ?? DEFAULT_PG_URL,
    pgUrlGiven: values['pg-url'] !== undefined,
    serverScript: values['server-script'] ?? 'bin/smsgw.js',
    out: values.out ?? null,
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      customers: { type: 'string' },
      'zipf-s': { type: 'string' },
      'setup-concurrency': { type: 'string' },
      'opt-outs': { type: 'string' },
      only: { type: 'string' },
      'skip-bare': { type: 'boolean' },
      'skip-zipf': { type: 'boolean' },
      'skip-hot': { type: 'boolean' },
      target: { type: 'string' },
      'admin-token': { type: 'string' },
      'pg-url': { type: 'string' },
      'server-script': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
