import type { Registry } from 'prom-client'
import type { Bus, Consumer } from '../bus/bus.ts'
import { acceptsWebhooks, type Carrier, type InboundMessage } from '../carriers/carrier.ts'
import type { CarrierConfig } from '../carriers/config.ts'
import type { Db } from '../db/db.ts'
import { createDispatcher, type Dispatcher, type DispatcherOptions } from '../dispatch/dispatcher.ts'
import { countOutboxBacklog } from '../dispatch/outbox-backlog.ts'
import { createStatusWriter, type StatusWriter } from '../events/status-writer.ts'
import { createBurstReporter } from '../lib/burst-reporter.ts'
import { stderrReporter } from '../observability/reporter.ts'
import type { Tracing } from '../observability/tracing.ts'
import { type BreakerOptions, type CarrierLink, createCarrierLink } from './carrier-links.ts'
import { createPipelineMetrics } from './metrics.ts'
import { countParkedReceipts } from './parked-receipts.ts'
import { createPendingRefs } from './pending-refs.ts'
import { closeUnreportedMessages } from './receipt-timeout.ts'
import { createReceiptHandler } from './receipts.ts'
import { consumeRelayedWebhooks } from './webhook-relay.ts'
import { createWorker, type Worker, type WorkerOptions } from './worker.ts'

export interface PipelineOptions {
  db: Db
  bus: Bus
  carriers: CarrierConfig[]
  /** Which roles run in this process (default both). */
  roles?: { dispatcher?: boolean; worker?: boolean }
  breaker?: BreakerOptions
  worker?: Partial<Omit<WorkerOptions, 'db' | 'bus' | 'links' | 'statuses'>>
  dispatcher?: Partial<Omit<DispatcherOptions, 'db' | 'bus'>>
  /** Builds a carrier's adapter from its config: the start-up module passes createCarrier with its hooks. */
  makeCarrier: (c: CarrierConfig) => Carrier
  /** Failures of the background roles, tagged with where they happened. Default: written to stderr. */
  onError?: (err: unknown, where: string) => void
  /** Receipts of a carrier that matched no message and were parked: once per burst (10 s), with the count. */
  onUnmatchedReceipts?: (
    carrier: string,
    count: number,
    example: { carrierId: string; status: string },
  ) => void
  /** Messages still `sent` this long after their validity period end `unknown` (worker role; default 3600 s). */
  receiptGraceS?: number
  /** How often the worker looks for them, ms (default 60 000). */
  receiptSweepMs?: number
  /** Where the pipeline's metrics are registered (the api's registry when they share a process). */
  registry?: Registry
  /** Spans of dispatch, worker, carrier submit and receipt (ADR 16); default off. */
  tracing?: Tracing
  /** Handles MO messages (routing, opt-outs: src/inbound); default: stored with no customer. */
  onInbound?: (carrier: string, m: InboundMessage) => Promise<unknown>
}

export interface Pipeline {
  readonly links: CarrierLink[]
  readonly dispatcher?: Dispatcher
  readonly worker?: Worker
  readonly statuses: StatusWriter
  /**
   * A receipt or MO message POSTed by an HTTP provider. False when no such webhook provider
   * runs here; throws CarrierPayloadError for a body the provider's format does not parse.
   */
  webhook(provider: string, kind: 'dlr' | 'inbound', json: unknown): Promise<boolean>
  start(): Promise<void>
  /** Graceful: stop releasing work, let in-flight deliveries finish, flush statuses, close carriers. */
  stop(): Promise<void>
}

/** The delivery side of smsgw: dispatcher (outbox → bus) and worker (bus → carriers → statuses). */
export function createPipeline(opts: PipelineOptions): Pipeline {
  const roles = { dispatcher: true, worker: true, ...opts.roles }
  const report = (where: string) => {
    const onError = opts.onError
    return onError ? (err: unknown) => onError(err, where) : stderrReporter(where)
  }
  let links: CarrierLink[] = []
  const metrics = opts.registry
    ? createPipelineMetrics(
        opts.registry,
        opts.bus,
        () => links,
        () => countParkedReceipts(opts.db),
        roles.dispatcher ? (lane) => countOutboxBacklog(opts.db, lane) : undefined,
      )
    : undefined
  const statuses = createStatusWriter(opts.db, {
    onApplied: (applied) => {
      const now = Date.now()
      for (const a of applied)
        if (a.status === 'delivered')
          metrics?.deliverySeconds.observe({ priority: a.priority }, (now - Date.parse(a.createdAt)) / 1000)
    },
  })
  // A flood of bogus receipts is a few lines, not one per receipt (errors are folded by onError's reporter).
  const unmatchedLog = createBurstReporter<{ carrierId: string; status: string }>((carrier, n, example) =>
    opts.onUnmatchedReceipts?.(carrier, n, example),
  )
  const receiptError = report('receipts')
  const pendingRefs = createPendingRefs()
  const receipts = createReceiptHandler({
    db: opts.db,
    statuses,
    pendingRefs,
    onError: (err) => {
      metrics?.receiptErrors.inc()
      receiptError(err)
    },
    onUnmatched: (carrier, r) => {
      metrics?.receiptsUnmatched.inc({ carrier })
      unmatchedLog.add(carrier, { carrierId: r.carrierId, status: r.status })
    },
    onRematched: (n) => metrics?.receiptsRematched.inc(n),
    onMatched: (status) => metrics?.receipts.inc({ status }),
    onReceiptLatency: (s) => metrics?.receiptSeconds.observe(s),
    onCarrierReceipt: (carrier) => metrics?.carrierReceipts.inc({ carrier }),
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  })
  links = roles.worker
    ? opts.carriers.map((c) => {
        const carrier = opts.makeCarrier(c)
        carrier.onReceipt((r) => receipts.handle(c.name, r))
        carrier.onInbound((m) => (opts.onInbound ?? receipts.inbound)(c.name, m))
        return createCarrierLink(c, carrier, opts.breaker)
      })
    : []
  // Re-matches of parked receipts run beside the worker's submits; stop() waits for them.
  const background = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>) => {
    background.add(p)
    void p.finally(() => background.delete(p))
  }
  const worker = roles.worker
    ? createWorker({
        db: opts.db,
        bus: opts.bus,
        links,
        statuses,
        pendingRefs,
        onError: report('worker'),
        onSubmitted: (carrier, ms) => metrics?.submitSeconds.observe({ carrier }, ms / 1000),
        onSubmitError: (carrier, kind) => metrics?.submitErrors.inc({ carrier, kind }),
        onDeadLetter: (lane, status) => metrics?.deadLetters.inc({ lane, status }),
        onRecorded: (refs) => track(receipts.recorded(refs)),
        ...(opts.tracing ? { tracing: opts.tracing } : {}),
        ...opts.worker,
      })
    : undefined
  const dispatcher = roles.dispatcher
    ? createDispatcher({
        db: opts.db,
        bus: opts.bus,
        onError: report('dispatcher'),
        onDispatched: (lane, n) => metrics?.dispatched.inc({ lane }, n),
        ...(opts.tracing ? { tracing: opts.tracing } : {}),
        ...opts.dispatcher,
      })
    : undefined
  const webhook = async (name: string, kind: 'dlr' | 'inbound', json: unknown) => {
    const carrier = links.find((p) => p.name === name)?.carrier
    if (!carrier || !acceptsWebhooks(carrier)) return false
    // Parsing hands the receipt/MO to the carrier's listeners, registered above.
    if (kind === 'dlr') await carrier.handleReceipt(json)
    else await carrier.handleInbound(json)
    return true
  }
  let relayed: Consumer | undefined
  let sweeping: NodeJS.Timeout | undefined
  const sweep = () => {
    track(receipts.sweep())
    closeUnreportedMessages({ db: opts.db, statuses, graceS: opts.receiptGraceS ?? 3600 }).catch(
      report('receipt timeout'),
    )
  }
  return {
    links,
    dispatcher,
    worker,
    statuses,
    webhook,
    async start() {
      await worker?.start()
      // Webhooks that api processes without a worker stored on the bus.
      if (worker && links.some((p) => acceptsWebhooks(p.carrier)))
        relayed = await consumeRelayedWebhooks(opts.bus, webhook, report('webhooks'))
      dispatcher?.start()
      if (worker) sweeping = setInterval(sweep, opts.receiptSweepMs ?? 60_000).unref()
    },
    async stop() {
      clearInterval(sweeping)
      await dispatcher?.stop()
      await relayed?.stop()
      await worker?.stop()
      await Promise.all(background)
      await statuses.drain()
      unmatchedLog.flush()
      await Promise.all(links.map((p) => p.carrier.close()))
    },
  }
}
