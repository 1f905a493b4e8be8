import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { collectionsDuring, oneMessage, oneMessageThroughApi } from '../../../bench/tracing-cost.ts'
import { loadConfig } from '../../../src/config/config.ts'
import { createTracing, NOOP_SPAN, TRACING_OFF } from '../../../src/observability/tracing.ts'
import { startTracing, tracesUrl } from '../../../src/observability/tracing-setup.ts'

const inMemory = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  return { exporter, tracing: createTracing({ provider, maxRemembered: 2 }) }
}

describe('tracing off', () => {
  it('is one frozen object whose hooks return the same frozen no-op span or their own argument', async () => {
    assert.equal(TRACING_OFF.on, false)
    assert.ok(Object.isFrozen(TRACING_OFF))
    assert.ok(Object.isFrozen(NOOP_SPAN))
    const job = { id: 'm1' }
    const m = {
      data: job,
      deliveryCount: 1,
      header: () => '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    }
    assert.equal(TRACING_OFF.dispatchStarted('m1', 'otp'), NOOP_SPAN)
    assert.equal(TRACING_OFF.workerStarted(m, 'otp'), NOOP_SPAN)
    assert.equal(TRACING_OFF.submitStarted(job, 'sim'), NOOP_SPAN)
    assert.equal(TRACING_OFF.receiptMatched('m1', 'sim', 'delivered'), NOOP_SPAN)
    const p = Promise.resolve({ kind: 'accepted' })
    assert.equal(TRACING_OFF.acceptCommit({}, 'm1', p), p, 'the biller’s own promise, not a wrapper')
    assert.equal(NOOP_SPAN.around(p), p)
    const options = { msgId: 'm1' }
    assert.equal(NOOP_SPAN.inject(options), options, 'publish options untouched: no headers')
    assert.deepEqual(options, { msgId: 'm1' })
  })

  it('allocates nothing per message: a million messages through every hook cause no garbage collection', () => {
    const req = {}
    const job = { id: 'm1' }
    assert.equal(
      collectionsDuring(() => oneMessage(TRACING_OFF, req, job), 1_000_000),
      0,
    )
    // The check can see allocation: the OpenTelemetry API's no-op tracer (what unguarded hooks
    // would call) makes a span object per call, and the same million messages collect garbage.
    assert.ok(collectionsDuring(() => oneMessageThroughApi(trace.getTracer('smsgw')), 1_000_000) > 0)
  })

  it('never reaches the OpenTelemetry API, even with a global tracer provider registered', () => {
    const { exporter } = inMemory()
    const global = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    trace.setGlobalTracerProvider(global)
    try {
      for (let i = 0; i < 100; i++) oneMessage(TRACING_OFF, {}, { id: `m${i}` })
      assert.equal(exporter.getFinishedSpans().length, 0)
    } finally {
      trace.disable()
    }
  })
})

describe('tracing on', () => {
  it('links a valid caller traceparent to the request span and ignores a malformed one', () => {
    const { exporter, tracing } = inMemory()
    const a = {}
    const b = {}
    tracing.requestStarted(
      a,
      'POST',
      '/v1/messages',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    )
    tracing.requestStarted(b, 'GET', '/v1/balance', 'not-a-traceparent')
    tracing.requestEnded(a, 202, '/v1/messages')
    tracing.requestEnded(b, 503, '/v1/balance')
    tracing.requestEnded(b, 503, '/v1/balance') // a second end is a no-op
    const [sa, sb] = exporter.getFinishedSpans()
    assert.equal(exporter.getFinishedSpans().length, 2)
    assert.equal(sa?.name, 'POST /v1/messages')
    assert.equal(sa?.kind, SpanKind.SERVER)
    assert.equal(sa?.parentSpanContext, undefined, 'a caller’s context is linked, never the parent')
    assert.deepEqual(
      sa?.links.map((l) => l.context.traceId),
      ['0af7651916cd43dd8448eb211c80319c'],
    )
    assert.notEqual(sa?.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c')
    assert.deepEqual(sb?.links, [])
    assert.equal(sb?.status.code, SpanStatusCode.ERROR, '5xx marks the request span failed')
    assert.equal(sa?.status.code, SpanStatusCode.UNSET)
  })

  it('records a failed accept commit and a failed submit as errors, and hands on only accepted messages', async () => {
    const { exporter, tracing } = inMemory()
    const req = {}
    tracing.requestStarted(req, 'POST', '/v1/messages', undefined)
    await assert.rejects(tracing.acceptCommit(req, 'm1', Promise.reject(new Error('db down'))), /db down/)
    await tracing.acceptCommit(req, 'm2', Promise.resolve({ kind: 'insufficient_balance' }))
    await tracing.acceptCommit(req, 'm3', Promise.resolve({ kind: 'accepted' }))
    const accept = (id: string) =>
      exporter
        .getFinishedSpans()
        .find((s) => s.name === 'accept commit' && s.attributes['smsgw.message.id'] === id)
    assert.equal(accept('m1')?.status.code, SpanStatusCode.ERROR)
    assert.equal(accept('m1')?.events[0]?.name, 'exception')
    assert.equal(accept('m2')?.attributes['smsgw.accept.outcome'], 'insufficient_balance')
    tracing.dispatchStarted('m2', 'normal').end()
    tracing.dispatchStarted('m3', 'normal').end()
    const dispatch = (id: string) =>
      exporter
        .getFinishedSpans()
        .find((s) => s.name === 'dispatch' && s.attributes['smsgw.message.id'] === id)
    assert.equal(dispatch('m2')?.parentSpanContext, undefined, 'not accepted: nothing handed on')
    assert.equal(dispatch('m3')?.parentSpanContext?.spanId, accept('m3')?.spanContext().spanId)
    // A publish retried (the pass failed, the rows came back) stays in the message's trace.
    tracing.dispatchStarted('m3', 'normal').end()
    const again = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'dispatch')
      .at(-1)
    assert.equal(again?.parentSpanContext?.spanId, accept('m3')?.spanContext().spanId)

    const job = { id: 'm3' }
    await assert.rejects(tracing.submitStarted(job, 'sim').around(Promise.reject(new Error('throttled'))))
    const submit = exporter.getFinishedSpans().find((s) => s.name === 'carrier submit')
    assert.equal(submit?.status.code, SpanStatusCode.ERROR)
  })

  it('puts the dispatch span in publish options as W3C traceparent, keeping msgId', () => {
    const { exporter, tracing } = inMemory()
    const span = tracing.dispatchStarted('m1', 'otp')
    const o = span.inject({ msgId: 'm1' })
    span.end()
    const s = exporter.getFinishedSpans()[0]
    assert.deepEqual(o, {
      msgId: 'm1',
      headers: { traceparent: `00-${s?.spanContext().traceId}-${s?.spanContext().spanId}-01` },
    })
  })

  it('remembers at most maxRemembered contexts: the oldest accept is forgotten', async () => {
    const { exporter, tracing } = inMemory()
    for (const id of ['a', 'b', 'c'])
      await tracing.acceptCommit({}, id, Promise.resolve({ kind: 'accepted' }))
    for (const id of ['a', 'b', 'c']) tracing.dispatchStarted(id, 'bulk').end()
    const parents = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'dispatch')
      .map((s) => s.parentSpanContext !== undefined)
    assert.deepEqual(parents, [false, true, true])
  })
})

describe('tracing setup', () => {
  it('is off without an endpoint, or with OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none', async () => {
    const env = (e: Record<string, string>) => loadConfig(e)
    assert.equal(tracesUrl(env({})), undefined)
    assert.equal(tracesUrl(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })), 'http://c:4318/v1/traces')
    assert.equal(
      tracesUrl(
        env({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9/x',
        }),
      ),
      'http://t:9/x',
    )
    assert.equal(
      tracesUrl(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })),
      undefined,
    )
    assert.equal(
      tracesUrl(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })),
      undefined,
    )
    const off = await startTracing(env({}), 'api')
    assert.equal(off.tracing, TRACING_OFF)
    await off.shutdown()
  })

  it('refuses what it cannot honour, naming the variable', () => {
    assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL/)
    assert.throws(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER/)
    assert.throws(
      () => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }),
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    )
  })
})
