import type { Registry } from 'prom-client'
import type { Bus, Consumer } from '../bus/bus.ts'
import { acceptsWebhooks, type Carrier } from '../carriers/carrier.ts'
import type { CarrierConfig } from '../carriers/config.ts'
import { createCarrier } from '../carriers/create-carrier.ts'
import type { Db } from '../db/db.ts'
import { createDispatcher, type Dispatcher, type DispatcherOptions } from '../dispatch/dispatcher.ts'
import { countOutboxBacklog } from '../dispatch/outbox-backlog.ts'
import { createStatusWriter, type StatusWriter } from '../events/status-writer.ts'
import { stderrReporter } from '../observability/reporter.ts'
import { createPipelineMetrics } from './metrics.ts'
import { type BreakerOptions, createProvider, type Provider } from './providers.ts'
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
  worker?: Partial<Omit<WorkerOptions, 'db' | 'bus' | 'providers' | 'statuses'>>
  dispatcher?: Partial<Omit<DispatcherOptions, 'db' | 'bus'>>
  /** Builds a carrier from its config (tests substitute; default: SMPP/HTTP adapters). */
  makeCarrier?: (c: CarrierConfig) => Carrier
  /** Failures of the background roles, tagged with where they happened. Default: written to stderr. */
  onError?: (err: unknown, where: string) => void
  /** Messages still `sent` this long after their validity period end `unknown` (worker role; default 3600 s). */
  receiptGraceS?: number
  /** How often the worker looks for them, ms (default 60 000). */
  receiptSweepMs?: number
  /** Where the pipeline's metrics are registered (the api's registry when they share a process). */
  registry?: Registry
}

export interface Pipeline {
  readonly providers: Provider[]
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
  let providers: Provider[] = []
  const metrics = opts.registry
    ? createPipelineMetrics(
        opts.registry,
        opts.bus,
        () => providers,
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
  const receipts = createReceiptHandler({
    db: opts.db,
    statuses,
    onError: report('receipts'),
    onMatched: (status) => metrics?.receipts.inc({ status }),
    onReceiptLatency: (s) => metrics?.receiptSeconds.observe(s),
    onCarrierReceipt: (provider) => metrics?.carrierReceipts.inc({ provider }),
  })
  providers = roles.worker
    ? opts.carriers.map((c) => {
        const carrier = (opts.makeCarrier ?? createCarrier)(c)
        carrier.onReceipt((r) => receipts.handle(c.name, r))
        carrier.onInbound((m) => receipts.inbound(c.name, m))
        return createProvider(c, carrier, opts.breaker)
      })
    : []
  const worker = roles.worker
    ? createWorker({
        db: opts.db,
        bus: opts.bus,
        providers,
        statuses,
        onError: report('worker'),
        onSubmitted: (provider, ms) => metrics?.submitSeconds.observe({ provider }, ms / 1000),
        onSubmitError: (provider, kind) => metrics?.submitErrors.inc({ provider, kind }),
        onDeadLetter: (lane, status) => metrics?.deadLetters.inc({ lane, status }),
        ...opts.worker,
      })
    : undefined
  const dispatcher = roles.dispatcher
    ? createDispatcher({
        db: opts.db,
        bus: opts.bus,
        onError: report('dispatcher'),
        onDispatched: (lane, n) => metrics?.dispatched.inc({ lane }, n),
        ...opts.dispatcher,
      })
    : undefined
  const webhook = async (name: string, kind: 'dlr' | 'inbound', json: unknown) => {
    const carrier = providers.find((p) => p.name === name)?.carrier
    if (!carrier || !acceptsWebhooks(carrier)) return false
    // Parsing hands the receipt/MO to the carrier's listeners, registered above.
    if (kind === 'dlr') await carrier.handleReceipt(json)
    else await carrier.handleInbound(json)
    return true
  }
  let relayed: Consumer | undefined
  let sweeping: NodeJS.Timeout | undefined
  const sweep = () =>
    closeUnreportedMessages({ db: opts.db, statuses, graceS: opts.receiptGraceS ?? 3600 }).catch(
      report('receipt timeout'),
    )
  return {
    providers,
    dispatcher,
    worker,
    statuses,
    webhook,
    async start() {
      await worker?.start()
      // Webhooks that api processes without a worker stored on the bus.
      if (worker && providers.some((p) => acceptsWebhooks(p.carrier)))
        relayed = await consumeRelayedWebhooks(opts.bus, webhook, report('webhooks'))
      dispatcher?.start()
      if (worker) sweeping = setInterval(sweep, opts.receiptSweepMs ?? 60_000).unref()
    },
    async stop() {
      clearInterval(sweeping)
      await dispatcher?.stop()
      await relayed?.stop()
      await worker?.stop()
      await statuses.drain()
      await Promise.all(providers.map((p) => p.carrier.close()))
    },
  }
}
