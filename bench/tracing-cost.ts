// `npm run bench -- tracing`: what the tracing hooks cost one message (ADR 16), off and on, next to
// the same six spans through @opentelemetry/api's no-op tracer (what "off" would cost had the hooks
// called the API unguarded). Reports CPU ns per message and garbage collections (allocation) per run.

import { parseArgs } from 'node:util'
import v8 from 'node:v8'
import { type Tracer, trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'
import { createTracing, TRACING_OFF, type Tracing } from '../src/observability/tracing.ts'
import { parseOrUsage } from './cli-args.ts'
import { UsageError } from './usage-error.ts'

export const usage = `usage: npm run bench -- tracing [--messages N]

  --messages N   messages per variant (default 1000000; the live variant runs a tenth of them)`

const settled = Promise.resolve({ kind: 'accepted' })
/** Where results go, so the optimiser cannot drop what a variant makes (a real caller keeps its spans). */
export let sink: unknown

/** The hook calls one message makes on its way (api, accept, dispatch, worker, submit, receipt). */
export function oneMessage(t: Tracing, req: object, job: { id: string }): void {
  const delivery = { data: job, deliveryCount: 1, header: headerOf }
  t.requestStarted(req, 'POST', '/v1/messages', undefined)
  sink = t.acceptCommit(req, job.id, settled)
  t.requestEnded(req, 202, '/v1/messages')
  const dispatch = t.dispatchStarted(job.id, 'normal')
  sink = dispatch.inject(PUBLISH)
  dispatch.end()
  const worker = t.workerStarted(delivery, 'normal')
  const submit = t.submitStarted(job, 'sim')
  submit.end()
  worker.end()
  const receipt = t.receiptMatched(job.id, 'sim', 'delivered')
  receipt.end()
  sink = receipt
}
const PUBLISH = { msgId: 'm' }
const headerOf = (_name: string): string | undefined => undefined

/** The same six spans through the OpenTelemetry API's tracer (the global no-op one unless registered). */
export function oneMessageThroughApi(tracer: Tracer): void {
  for (const name of SPANS) {
    const span = tracer.startSpan(name)
    sink = span
    span.end()
  }
}
const SPANS = ['http', 'accept commit', 'dispatch', 'worker', 'carrier submit', 'receipt']

/** Garbage collections while `fn` runs n times (after a warm-up): 0 means it allocated (next to) nothing. */
export function collectionsDuring(fn: () => void, n: number): number {
  for (let i = 0; i < 10_000; i++) fn()
  const profiler = new v8.GCProfiler()
  profiler.start()
  for (let i = 0; i < n; i++) fn()
  return profiler.stop().statistics.length
}

/**
 * CPU time (user + system, so a busy shared machine's waits do not count) per call of fn, in
 * chunks of 1,000 calls with a turn of the event loop between (the promises a hook chains settle
 * there, as they would between requests).
 */
async function timed(fn: () => void, n: number): Promise<{ nsPerMessage: number; collections: number }> {
  for (let i = 0; i < 10_000; i++) fn()
  await nextTurn()
  const profiler = new v8.GCProfiler()
  profiler.start()
  const started = process.cpuUsage()
  for (let done = 0; done < n; done += CHUNK) {
    for (let i = 0; i < CHUNK; i++) fn()
    await nextTurn()
  }
  const used = process.cpuUsage(started)
  return {
    nsPerMessage: ((used.user + used.system) * 1000) / n,
    collections: profiler.stop().statistics.length,
  }
}
const CHUNK = 1000
const nextTurn = () => new Promise<void>((r) => setImmediate(r))

const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({ args: argv, options: { messages: { type: 'string', default: '1000000' } } }),
  )
  const n = Number(values.messages)
  if (!Number.isInteger(n) || n < 10_000 || n % 10_000 !== 0)
    throw new UsageError('--messages must be a multiple of 10000')
  const req = {}
  const job = { id: '01890a5d-ac96-774b-bcce-b302099a8057' }
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] })
  const live = createTracing({ provider })
  const rows = [
    { variant: 'no hooks (baseline)', ...(await timed(() => {}, n)) },
    { variant: 'hooks, tracing off', ...(await timed(() => oneMessage(TRACING_OFF, req, job), n)) },
    {
      variant: 'OTel API no-op tracer',
      ...(await timed(() => oneMessageThroughApi(trace.getTracer('x')), n)),
    },
    {
      variant: 'hooks, tracing on (spans discarded)',
      ...(await timed(() => oneMessage(live, req, job), n / 10)),
    },
  ]
  await provider.shutdown()
  const off = rows[1]?.nsPerMessage ?? 0
  console.table(
    rows.map((r) => ({
      ...r,
      nsPerMessage: Number(r.nsPerMessage.toFixed(1)),
      'x off': off > 0 ? Number((r.nsPerMessage / off).toFixed(1)) : '-',
    })),
  )
  console.log(`${n.toLocaleString('en')} messages per variant (tracing on: ${(n / 10).toLocaleString('en')})`)
  return 0
}
