/**
 * Tracing of one message across the gateway (ADR 16): the HTTP request, its accept commit, the
 * dispatch to the bus, the worker's handling, the carrier submit and the receipt, as OpenTelemetry
 * spans of one trace. Hot paths call the hooks below unconditionally; with tracing off they get
 * TRACING_OFF, whose hooks return the same frozen NOOP_SPAN (or their argument) and allocate
 * nothing — no span, no context, no header. Spans are parented explicitly (no context manager,
 * no patched modules): across the bus by a W3C `traceparent` header; across the outbox and from
 * submit to receipt by small in-process maps filled only while tracing is on, backed by the
 * `trace_parent` column of the outbox row and of the carrier_refs row (written only while tracing
 * is on) for when the dispatcher, or the worker a receipt reaches, is another process.
 */
import {
  type Attributes,
  type Context,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { LRUCache } from 'lru-cache'
import type { PublishOptions } from '../bus/bus.ts'

/** A span of ours; with tracing off, the shared NOOP_SPAN. */
export interface TraceSpan {
  /** Bus publish options with this span's context added as headers; `o` itself when not recording. */
  inject(o: PublishOptions): PublishOptions
  /** Ends the span when `p` settles (as an error if it rejects); returns `p` itself when not recording. */
  around<T>(p: Promise<T>): Promise<T>
  end(err?: unknown): void
}

/** What a bus delivery offers the worker hook (a BusMessage). */
export interface TracedDelivery {
  readonly data: object
  readonly deliveryCount: number
  header(name: string): string | undefined
}

export interface Tracing {
  /** Spans are recorded: the one boolean a hot path may test. */
  readonly on: boolean
  /** The HTTP server span of a request (tracing-http.ts hooks): `traceparent` sent by the client becomes a link. */
  requestStarted(req: object, method: string, path: string, traceparent: string | undefined): void
  /** Ends the request's span with its status and route; 5xx or `err` mark it failed. */
  requestEnded(req: object, statusCode: number, route: string | undefined, err?: unknown): void
  /**
   * Starts the accept commit span of one message (a child of its request's span) and returns its
   * `traceparent`, to be written in the message's outbox row. Off: undefined.
   */
  acceptStarted(req: object, messageId: string): string | undefined
  /**
   * Ends the accept commit span of one message (the one acceptStarted began for `req`, else a new
   * child of its request's span) when the biller's promise settles; an `accepted` outcome hands the
   * span's context to the dispatcher of this process. Off: `p` itself.
   */
  acceptCommit<T extends { kind: string }>(req: object, messageId: string, p: Promise<T>): Promise<T>
  /**
   * Publishing one job to its lane, a child of its accept commit: the one of this process, else
   * `traceParent` (the outbox row's `trace_parent`).
   */
  dispatchStarted(messageId: string, lane: string, traceParent?: string | null): TraceSpan
  /** A worker handling one delivery, a child of the `traceparent` the message carries. */
  workerStarted(m: TracedDelivery, lane: string): TraceSpan
  /** One submit of `job` (the delivery's data) to a carrier, a child of its worker span. */
  submitStarted(job: { readonly id: string }, carrier: string): TraceSpan
  /** The `traceparent` of the message's last submit in this process, to be written in its carrier_refs rows. Off: undefined. */
  submitTraceParent(messageId: string): string | undefined
  /**
   * A carrier receipt matched to a message: a child of the message's last submit in this process,
   * else of `traceParent` (the carrier_refs row's `trace_parent`).
   */
  receiptMatched(messageId: string, carrier: string, status: string, traceParent?: string | null): TraceSpan
}

const same = <T>(x: T): T => x

/** The span of tracing off: records nothing, allocates nothing. */
export const NOOP_SPAN: TraceSpan = Object.freeze({
  inject: same,
  around: same,
  end() {},
})

/** Tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT): every hook a constant, the OpenTelemetry API never called. */
export const TRACING_OFF: Tracing = Object.freeze({
  on: false,
  requestStarted() {},
  requestEnded() {},
  acceptStarted: () => undefined,
  acceptCommit: <T>(_req: object, _messageId: string, p: Promise<T>) => p,
  dispatchStarted: () => NOOP_SPAN,
  workerStarted: () => NOOP_SPAN,
  submitStarted: () => NOOP_SPAN,
  submitTraceParent: () => undefined,
  receiptMatched: () => NOOP_SPAN,
})

export interface TracingOptions {
  provider: TracerProvider
  /**
   * Accept-commit contexts kept for the dispatcher, and submit contexts kept for receipts, at most
   * (each; default 100 000). A miss (split processes, a message older than that) falls back to
   * the `trace_parent` stored with the outbox or carrier_refs row; without one (written while
   * tracing was off), a new trace that carries the message id.
   */
  maxRemembered?: number
}

const TRACER = 'smsgw'
const MESSAGE_ID = 'smsgw.message.id'
const propagator = new W3CTraceContextPropagator()
const deliveryGetter: TextMapGetter<TracedDelivery> = {
  get: (m, key) => m.header(key),
  keys: () => ['traceparent', 'tracestate'],
}
const stringGetter: TextMapGetter<string | undefined> = {
  get: (tp, key) => (key === 'traceparent' ? tp : undefined),
  keys: () => ['traceparent'],
}
const recordSetter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value
  },
}

class LiveSpan implements TraceSpan {
  constructor(readonly span: Span) {}

  inject(o: PublishOptions): PublishOptions {
    const headers: Record<string, string> = { ...o.headers }
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), headers, recordSetter)
    return { ...o, headers }
  }

  around<T>(p: Promise<T>): Promise<T> {
    return p.then(
      (v) => {
        this.end()
        return v
      },
      (err: unknown) => {
        this.end(err)
        throw err
      },
    )
  }

  end(err?: unknown): void {
    if (err !== undefined) failed(this.span, err)
    this.span.end()
  }
}

function failed(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err))
  span.recordException(e)
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message })
}

const under = (sc: SpanContext | undefined): Context =>
  sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT

/** The context of a stored `traceparent` (ROOT_CONTEXT when absent or malformed). */
const stored = (tp: string | null | undefined): Context =>
  tp ? propagator.extract(ROOT_CONTEXT, tp, stringGetter) : ROOT_CONTEXT

/** The W3C `traceparent` of a span context. */
function traceParentOf(sc: SpanContext): string {
  const carrier: Record<string, string> = {}
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, sc), carrier, recordSetter)
  return carrier.traceparent as string
}

/** Tracing that records spans through `provider` (OTLP in production, in-memory in tests). */
export function createTracing(opts: TracingOptions): Tracing {
  const tracer: Tracer = opts.provider.getTracer(TRACER)
  const max = opts.maxRemembered ?? 100_000
  const requests = new WeakMap<object, { span: Span; method: string }>()
  const workers = new WeakMap<object, Span>()
  const accepting = new WeakMap<object, Span>()
  const accepted = new LRUCache<string, SpanContext>({ max })
  const submits = new LRUCache<string, SpanContext>({ max })

  const start = (name: string, kind: SpanKind, parent: Context, attributes: Attributes, links?: Link[]) =>
    tracer.startSpan(name, { kind, attributes, ...(links ? { links } : {}) }, parent)
  const startAccept = (req: object, messageId: string) => {
    const parent = requests.get(req)?.span
    return start(
      'accept commit',
      SpanKind.INTERNAL,
      parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
      { [MESSAGE_ID]: messageId },
    )
  }

  return {
    on: true,
    requestStarted(req, method, path, traceparent) {
      // A client's trace context is linked, not continued: a public API's callers must not decide
      // our sampling or graft our spans into their traces.
      const caller = traceparent
        ? trace.getSpanContext(propagator.extract(ROOT_CONTEXT, traceparent, stringGetter))
        : undefined
      const links = caller && isSpanContextValid(caller) ? [{ context: caller }] : undefined
      const span = start(
        method,
        SpanKind.SERVER,
        ROOT_CONTEXT,
        { 'http.request.method': method, 'url.path': path },
        links,
      )
      requests.set(req, { span, method })
    },
    requestEnded(req, statusCode, route, err) {
      const r = requests.get(req)
      if (!r) return
      requests.delete(req)
      const { span } = r
      if (route) {
        span.updateName(`${r.method} ${route}`)
        span.setAttribute('http.route', route)
      }
      span.setAttribute('http.response.status_code', statusCode)
      if (err !== undefined) failed(span, err)
      else if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
    },
    acceptStarted(req, messageId) {
      const span = startAccept(req, messageId)
      accepting.set(req, span)
      return traceParentOf(span.spanContext())
    },
    acceptCommit(req, messageId, p) {
      const span = accepting.get(req) ?? startAccept(req, messageId)
      accepting.delete(req)
      return p.then(
        (outcome) => {
          span.setAttribute('smsgw.accept.outcome', outcome.kind)
          if (outcome.kind === 'accepted') accepted.set(messageId, span.spanContext())
          span.end()
          return outcome
        },
        (err: unknown) => {
          failed(span, err)
          span.end()
          throw err
        },
      )
    },
    dispatchStarted(messageId, lane, traceParent) {
      // Kept, not taken: a publish retried after a failed pass stays in the message's trace.
      const parent = accepted.get(messageId)
      return new LiveSpan(
        start('dispatch', SpanKind.PRODUCER, parent ? under(parent) : stored(traceParent), {
          [MESSAGE_ID]: messageId,
          'messaging.operation.type': 'send',
          'messaging.destination.name': `sms.deliver.${lane}`,
        }),
      )
    },
    workerStarted(m, lane) {
      const parent = propagator.extract(ROOT_CONTEXT, m, deliveryGetter)
      const id = (m.data as { id?: unknown }).id
      const span = start('worker', SpanKind.CONSUMER, parent, {
        ...(typeof id === 'string' ? { [MESSAGE_ID]: id } : {}),
        'messaging.operation.type': 'process',
        'messaging.destination.name': `sms.deliver.${lane}`,
        'messaging.message.delivery_count': m.deliveryCount,
      })
      workers.set(m.data, span)
      return new LiveSpan(span)
    },
    submitStarted(job, carrier) {
      const parent = workers.get(job)
      const span = start(
        'carrier submit',
        SpanKind.CLIENT,
        parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
        { [MESSAGE_ID]: job.id, 'smsgw.carrier': carrier },
      )
      submits.set(job.id, span.spanContext())
      return new LiveSpan(span)
    },
    submitTraceParent(messageId) {
      const sc = submits.get(messageId)
      return sc ? traceParentOf(sc) : undefined
    },
    receiptMatched(messageId, carrier, status, traceParent) {
      const parent = submits.get(messageId)
      return new LiveSpan(
        start('receipt', SpanKind.CONSUMER, parent ? under(parent) : stored(traceParent), {
          [MESSAGE_ID]: messageId,
          'smsgw.carrier': carrier,
          'smsgw.receipt.status': status,
        }),
      )
    },
  }
}
