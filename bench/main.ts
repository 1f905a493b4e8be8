// `npm run bench -- <name> [options]`: one entry point for all benchmarks. Each benchmark is its
// own module, loaded only when asked for, exporting `run(argv) → exit code` and `usage`.
import { installSignalHandlers, runCleanups } from './cleanup.ts'
import { UsageError } from './usage-error.ts'

interface Benchmark {
  summary: string
  load: () => Promise<{ run(argv: string[]): Promise<number>; usage: string }>
}

const benchmarks: Record<string, Benchmark> = {
  accept: {
    summary: 'load test of POST /v1/messages (bare ceiling, zipf tenants, hot tenant)',
    load: () => import('./accept.ts'),
  },
  'accept-statement': {
    summary:
      'the accept fast path statement alone: PostgreSQL CPU per message, vs another checkout (--base-dir)',
    load: () => import('./accept-statement.ts'),
  },
  batch: {
    summary: 'accept time of POST /v1/batches for 1,000 and 10,000 recipients',
    load: () => import('./batch.ts'),
  },
  e2e: {
    summary: 'accept → delivered through PostgreSQL, NATS JetStream and the carrier simulator',
    load: () => import('./e2e.ts'),
  },
  'vs-kannel': {
    summary: 'Kannel 1.4.5 vs smsgw (one process and split) on the same HTTP → SMPP → receipt work',
    load: () => import('./vs-kannel.ts'),
  },
  streams: {
    summary: 'memory per open idle live stream (GET /v1/events/stream, 1,000 SSE connections)',
    load: () => import('./streams.ts'),
  },
  tracing: {
    summary: 'cost per message of the tracing hooks, off and on, against the OpenTelemetry API no-op tracer',
    load: () => import('./tracing-cost.ts'),
  },
  inbound: {
    summary: 'MO/s over SMPP (deliver_sm, 3-part UCS-2 share) into stored and routed inbound messages',
    load: () => import('./inbound.ts'),
  },
  usage: {
    summary:
      'GET /v1/usage reads from the PostgreSQL rollups (30 days × 10,000 customers × 10 M messages) and one late-day rollup pass; with --clickhouse, usage and report reads from ClickHouse totals',
    load: () => import('./usage.ts'),
  },
  sim: {
    summary: 'traffic model (Zipf customers, whale floods, bursts, body and country mix) with an HTML report',
    load: () => import('./sim.ts'),
  },
}

function usage(): string {
  const names = Object.entries(benchmarks).map(([name, b]) => `  ${name.padEnd(10)} ${b.summary}`)
  return (
    `usage: npm run bench -- <benchmark> [options]\n\nbenchmarks:\n${names.join('\n')}\n\n` +
    'npm run bench -- <benchmark> --help shows its options\n'
  )
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '-h' || name === '--help') {
    console.log(usage())
    return 0
  }
  const benchmark = name === undefined ? undefined : benchmarks[name]
  if (!benchmark) {
    if (name !== undefined) console.error(`unknown benchmark '${name}'\n`)
    console.error(usage())
    return 2
  }
  const module = await benchmark.load()
  try {
    return await module.run(rest)
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${module.usage}`)
      return 2
    }
    throw err
  }
}

installSignalHandlers()
let code: number
try {
  code = await main(process.argv.slice(2))
} catch (err) {
  // Operational failures (server not ready, non-2xx preflight, Postgres down) are plain Errors
  // whose message says it all; anything else (TypeError, …) is a harness bug and wants its stack.
  const plain = err instanceof Error && err.constructor === Error
  console.error(`\nbench failed: ${plain ? err.message : err instanceof Error ? err.stack : String(err)}`)
  code = 1
}
await runCleanups()
// Explicit exit: autocannon and HTTP keep-alive agents may hold handles open after the run.
process.exit(code)
