// One message's trace, end to end: api request → accept commit → dispatch → worker → carrier
// submit → receipt, each span the parent of the next, through the real NATS bus (trace context in
// the message headers) and through the in-process bus. Spans go to an in-memory exporter.

import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import { SpanKind, trace } from '@opentelemetry/api'
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { type BusBatch, batchItems } from '../../../src/bus/batch.ts'
import type { Bus, ConsumeOptions, PublishOptions } from '../../../src/bus/bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { createTracing, TRACING_OFF, type Tracing } from '../../../src/observability/tracing.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { type BusUnderTest, busesUnderTest } from '../../helpers/buses.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c'
const CALLER_TRACEPARENT = `00-${CALLER_TRACE}-b7ad6b7169203331-01`
const CHAIN = ['POST /v1/messages', 'accept commit', 'dispatch', 'worker', 'carrier submit', 'receipt']

let pg: FreshDatabase
let sim: CarrierSim
before(async () => {
  pg = await freshDatabase()
  sim = await createCarrierSim({ receiptDelayMs: 10 })
})
after(async () => {
  await sim?.close()
  await pg?.drop()
})

interface Gateway {
  t: TestApp
  pipeline: Pipeline
  auth: { authorization: string }
  close(): Promise<void>
}

/** An api and a pipeline (dispatcher + worker, SMPP simulator) sharing `bus` and `tracing`, as in `smsgw start`. */
async function startGateway(bus: Bus, tracing: Tracing): Promise<Gateway> {
  const t = await startApp(pg.url, { deps: { tracing } })
  const pipeline = createPipeline({
    makeCarrier: createCarrier,
    db: t.db,
    bus,
    carriers: [simSmppCarrier('sim', sim.smppPort, { window: 10 })],
    dispatcher: { idleMs: 5 },
    tracing,
  })
  await pipeline.start()
  await setRates(t.app)
  const { auth } = await createCustomer(t.app, { credit: '10.00' })
  return {
    t,
    pipeline,
    auth,
    async close() {
      await pipeline.stop()
      await t.close()
    },
  }
}

async function sendAndDeliver(g: Gateway, headers: Record<string, string> = {}): Promise<string> {
  const res = await g.t.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...g.auth, ...headers },
    payload: sendBody(),
  })
  assert.equal(res.statusCode, 202, `${res.statusCode} ${res.body}`)
  const id = res.json().id as string
  await waitFor(
    async () =>
      (await g.t.app.inject({ url: `/v1/messages/${id}`, headers: g.auth })).json().status === 'delivered',
    `message ${id} delivered`,
    20_000,
  )
  return id
}

const idOf = (s: ReadableSpan) => s.spanContext().spanId

/** The six spans of one message, in chain order, once all have ended. */
async function chainOf(exporter: InMemorySpanExporter, messageId: string): Promise<ReadableSpan[]> {
  return waitFor(
    () => {
      const spans = exporter.getFinishedSpans()
      const http = spans.find(
        (s) =>
          s.name === 'POST /v1/messages' &&
          spans.some(
            (a) =>
              a.name === 'accept commit' &&
              a.parentSpanContext?.spanId === idOf(s) &&
              a.attributes['smsgw.message.id'] === messageId,
          ),
      )
      const own = spans.filter((s) => s.attributes['smsgw.message.id'] === messageId)
      const chain = [http, ...CHAIN.slice(1).map((n) => own.find((s) => s.name === n))]
      return chain.every((s) => s !== undefined) ? (chain as ReadableSpan[]) : undefined
    },
    `the six spans of ${messageId}`,
    10_000,
  )
}

function assertChain(chain: ReadableSpan[], messageId: string, t: TestContext): void {
  const [http, accept, dispatch, worker, submit, receipt] = chain as [
    ReadableSpan,
    ReadableSpan,
    ReadableSpan,
    ReadableSpan,
    ReadableSpan,
    ReadableSpan,
  ]
  t.diagnostic(
    chain
      .map(
        (s) =>
          `${s.name} [${SpanKind[s.kind]}] trace=${s.spanContext().traceId} span=${idOf(s)} parent=${s.parentSpanContext?.spanId ?? '-'}`,
      )
      .join('\n'),
  )
  assert.deepEqual(
    chain.map((s) => s.name),
    CHAIN,
  )
  assert.deepEqual(
    chain.map((s) => s.kind),
    [
      SpanKind.SERVER,
      SpanKind.INTERNAL,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
      SpanKind.CLIENT,
      SpanKind.CONSUMER,
    ],
  )
  const traceId = http.spanContext().traceId
  for (const s of chain) assert.equal(s.spanContext().traceId, traceId, `${s.name} is in the message's trace`)
  assert.equal(http.parentSpanContext, undefined, 'the request span is the root')
  for (let i = 1; i < chain.length; i++) {
    const s = chain[i] as ReadableSpan
    const parent = chain[i - 1] as ReadableSpan
    assert.equal(s.parentSpanContext?.spanId, idOf(parent), `${s.name}'s parent is ${parent.name}`)
  }
  // The caller's trace is linked, not continued.
  assert.notEqual(traceId, CALLER_TRACE)
  assert.deepEqual(
    http.links.map((l) => l.context.traceId),
    [CALLER_TRACE],
  )
  assert.equal(http.attributes['http.route'], '/v1/messages')
  assert.equal(http.attributes['http.response.status_code'], 202)
  assert.equal(accept.attributes['smsgw.accept.outcome'], 'accepted')
  assert.equal(dispatch.attributes['messaging.destination.name'], 'sms.deliver.normal')
  assert.equal(worker.attributes['messaging.message.delivery_count'], 1)
  assert.equal(submit.attributes['smsgw.carrier'], 'sim')
  assert.equal(receipt.attributes['smsgw.receipt.status'], 'delivered')
  assert.equal(receipt.attributes['smsgw.message.id'], messageId)
  // Each span starts no earlier than its parent (one clock, one process).
  for (let i = 1; i < chain.length; i++) {
    const [a, b] = [chain[i - 1] as ReadableSpan, chain[i] as ReadableSpan]
    assert.ok(
      b.startTime[0] * 1e9 + b.startTime[1] >= a.startTime[0] * 1e9 + a.startTime[1],
      `${b.name} after ${a.name}`,
    )
  }
}

/** The bus, recording what the dispatcher publishes to the lanes and the traceparent each worker delivery carries. */
const itemHeader = (data: unknown, i: number) =>
  (data as Partial<BusBatch<unknown>>).headers?.[i]?.traceparent ?? undefined

function spyOn(bus: Bus) {
  const published: {
    id: string
    traceparent: string | undefined
    options: PublishOptions | undefined
    batchHeaders: boolean
  }[] = []
  const consumed: { id: string; traceparent: string | undefined }[] = []
  const spied: Bus = {
    ...bus,
    publish: (subject, data, o) => {
      // Jobs travel in batches: each job's trace context rides in the batch's headers[i].
      if (subject.startsWith('sms.deliver.'))
        for (const [i, job] of batchItems(data).entries())
          published.push({
            id: (job as { id: string }).id,
            traceparent: itemHeader(data, i),
            options: o,
            batchHeaders: 'headers' in (data as object),
          })
      return bus.publish(subject, data, o)
    },
    consume: <T>(o: ConsumeOptions<T>) =>
      bus.consume<T>({
        ...o,
        handler: (m) => {
          if (m.subject.startsWith('sms.deliver.'))
            for (const [i, job] of batchItems(m.data).entries())
              consumed.push({ id: (job as { id: string }).id, traceparent: itemHeader(m.data, i) })
          return o.handler(m)
        },
      }),
  }
  return { bus: spied, published, consumed }
}

for (const kind of ['nats', 'memory'] as const) {
  describe(`tracing one message through the ${kind} bus`, () => {
    let b: BusUnderTest
    let spy: ReturnType<typeof spyOn>
    let g: Gateway
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    })
    before(async () => {
      b = await busesUnderTest[kind]()
      spy = spyOn(b.bus)
      g = await startGateway(spy.bus, createTracing({ provider }))
    })
    after(async () => {
      await g?.close()
      await b?.cleanup()
      await provider.shutdown()
    })

    it('records api request → accept commit → dispatch → worker → carrier submit → receipt, each the parent of the next', async (t) => {
      const id = await sendAndDeliver(g, { traceparent: CALLER_TRACEPARENT })
      const chain = await chainOf(exporter, id)
      assertChain(chain, id, t)
      // The context crossed the bus in the job's headers: the worker read the dispatch span's.
      const dispatch = chain[2] as ReadableSpan
      const worker = chain[3] as ReadableSpan
      const traceparent = `00-${dispatch.spanContext().traceId}-${idOf(dispatch)}-01`
      assert.deepEqual(
        spy.published.filter((p) => p.id === id).map((p) => p.traceparent),
        [traceparent],
      )
      assert.deepEqual(
        spy.consumed.filter((c) => c.id === id),
        [{ id, traceparent }],
      )
      assert.equal(
        worker.parentSpanContext?.isRemote,
        true,
        'the worker continues a context read off the bus',
      )
    })

    it('gives each message a trace of its own', async () => {
      const [a, c] = await Promise.all([sendAndDeliver(g), sendAndDeliver(g)])
      const [ta, tc] = await Promise.all([chainOf(exporter, a), chainOf(exporter, c)])
      const traces = (chain: ReadableSpan[]) => new Set(chain.map((s) => s.spanContext().traceId))
      assert.equal(traces(ta).size, 1)
      assert.equal(traces(tc).size, 1)
      assert.notDeepEqual([...traces(ta)], [...traces(tc)])
    })
  })
}

describe('tracing off', () => {
  it('publishes jobs without headers and records no span, even with a global tracer provider', async () => {
    const exporter = new InMemorySpanExporter()
    const global = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    assert.ok(trace.setGlobalTracerProvider(global))
    const b = await busesUnderTest.memory()
    const spy = spyOn(b.bus)
    const g = await startGateway(spy.bus, TRACING_OFF)
    try {
      const id = await sendAndDeliver(g, { traceparent: CALLER_TRACEPARENT })
      assert.deepEqual(
        spy.published.map((p) => ({ id: p.id, headers: p.options?.headers, batchHeaders: p.batchHeaders })),
        [{ id, headers: undefined, batchHeaders: false }],
        'no headers when tracing is off',
      )
      assert.deepEqual(spy.consumed, [{ id, traceparent: undefined }])
      assert.equal(exporter.getFinishedSpans().length, 0)
    } finally {
      await g.close()
      await b.cleanup()
      trace.disable()
      await global.shutdown()
    }
  })
})
