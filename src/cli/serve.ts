import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import { buildApp } from '../api/app.ts'
import { renderAccepted } from '../api/render.ts'
import { createBiller } from '../billing/biller.ts'
import { createRateCache } from '../billing/rates.ts'
import type { Bus } from '../bus/bus.ts'
import { createMemoryBus } from '../bus/memory-bus.ts'
import { createNatsBus } from '../bus/nats-bus.ts'
import { type CarrierConfig, defaultSimCarriers, readCarrierFile } from '../carriers/config.ts'
import { createCarrier } from '../carriers/create-carrier.ts'
import { relayWebhooks } from '../carriers/http/webhook-relay.ts'
import { type CarrierSim, createCarrierSim } from '../carriers/sim/carrier-sim.ts'
import { createWebhookAuth, newWebhookSecret } from '../carriers/webhook-auth.ts'
import { createComplianceCache } from '../compliance/compliance-cache.ts'
import { shareComplianceChanges } from '../compliance/shared-cache.ts'
import { type Config, ConfigError } from '../config/config.ts'
import type { Db } from '../db/db.ts'
import { providerView } from '../delivery/carrier-links.ts'
import { createPipeline, type Pipeline } from '../delivery/pipeline.ts'
import type { NewMessage } from '../domain/message.ts'
import { createStatusEventRelay } from '../events/relay.ts'
import { startWebhookRole } from '../events/webhook-role.ts'
import { resolveWebhookKey } from '../events/webhook-secrets.ts'
import { createInboundHandler } from '../inbound/inbound-handler.ts'
import { inboundMetrics } from '../inbound/metrics.ts'
import { scheduleMaintenance } from '../maintenance/maintenance.ts'
import { createReporter } from '../observability/reporter.ts'
import { startTracing } from '../observability/tracing-setup.ts'
import {
  createClickHouse,
  createClickHouseSink,
  createClickHouseUsageReader,
  ensureClickHouseSchema,
} from '../reporting/clickhouse.ts'
import { createRollupConsumer } from '../reporting/rollup-consumer.ts'
import { startBanner } from './banner.ts'
import { retentionOptions } from './maintenance.ts'
import { startOpsServer } from './ops-server.ts'
import { checkWebhookKey } from './role-config.ts'
import { createLogger, openDb, openRateLimiter, openReadDb, prepareDb, resolveAdminToken } from './runtime.ts'

export interface Roles {
  api: boolean
  dispatcher: boolean
  worker: boolean
  /** Webhook delivery to customers (`smsgw webhooks`; on in `smsgw start`). */
  webhooks?: boolean
}

/** Connections of the webhooks role's own pool (claims, group commits, reads: 2 each at most in flight). */
const WEBHOOKS_POOL = 8

/**
 * Runs the given roles in this process: `smsgw start` runs them all (with a simulated carrier
 * pair unless SMSGW_CARRIERS names real ones); `smsgw api|dispatcher|worker` run one each.
 * Shutdown is graceful: stop accepting, let in-flight deliveries finish, flush, close.
 */
export async function serve(config: Config, roles: Roles, opts: { banner: boolean }): Promise<void> {
  const logger = createLogger(config)
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const reporter = createReporter({ logger, registry })
  const statusEvents = new Counter({
    name: 'smsgw_status_events_published_total',
    help: 'Status events published to the bus by this process (the relay)',
    registers: [registry],
  })
  const rollupLag = new Gauge({
    name: 'smsgw_rollup_lag_seconds',
    help: 'Age of the oldest status event in the last rollup pass when the pass committed',
    registers: [registry],
  })
  const role = Object.entries(roles)
    .filter(([, on]) => on)
    .map(([r]) => r)
    .join('+')
  checkWebhookKey(config, roles)
  const traces = await startTracing(config, role)
  // A bad carrier file (an HTTP carrier without webhook authentication…) fails before anything starts.
  const fileCarriers: CarrierConfig[] = config.SMSGW_CARRIERS
    ? await readCarrierFile(config.SMSGW_CARRIERS)
    : []
  const db = await openDb(config, `smsgw-${role}`)
  // Migrations and maintenance run without SMSGW_STATEMENT_TIMEOUT_MS, on a connection of their own.
  const maintenanceDb = config.DATABASE_URL
    ? await openDb(config, `smsgw-${role}-maintenance`, { unbounded: true, poolSize: 1 })
    : db
  await prepareDb(maintenanceDb)
  const stopMaintenance = scheduleMaintenance(
    maintenanceDb,
    (err) => reporter.error('maintenance', err),
    undefined,
    retentionOptions(config),
  )

  const delivers = roles.dispatcher || roles.worker || roles.webhooks === true
  if (delivers && !config.NATS_URL && !(roles.api && roles.dispatcher && roles.worker)) {
    throw new ConfigError(
      'NATS_URL: a dispatcher, worker or webhooks role in its own process needs NATS (the in-process bus is per process)',
    )
  }
  // The api role alone does not use the bus; it only checks it when one is configured.
  const bus: Bus | undefined = config.NATS_URL
    ? await createNatsBus({
        // A comma-separated list seeds the connection from any cluster node that is up.
        servers: config.NATS_URL.split(',').map((u) => u.trim()),
        stream: config.SMSGW_NATS_STREAM,
        replicas: config.SMSGW_NATS_REPLICAS,
        ...(config.SMSGW_NATS_PREFIX ? { subjectPrefix: config.SMSGW_NATS_PREFIX } : {}),
        onError: (err) => reporter.error('bus', err),
      })
    : delivers
      ? createMemoryBus({ onError: (err) => reporter.error('bus', err) })
      : undefined

  let sim: CarrierSim | undefined
  let carriers = fileCarriers
  if (!config.SMSGW_CARRIERS && roles.worker) {
    // The simulated HTTP carrier signs its webhooks with a secret made for this run.
    const webhookSecret = newWebhookSecret()
    sim = await createCarrierSim({
      receiptDelayMs: config.SMSGW_SIM_RECEIPT_DELAY_MS,
      webhookSecret,
      // A message sent from one of the customer's numbers gets an answer: two-way in the quickstart.
      replyBody: config.SMSGW_SIM_REPLY_BODY === 'none' ? null : config.SMSGW_SIM_REPLY_BODY,
    })
    carriers = defaultSimCarriers({ ...sim, webhookSecret })
  }
  // Opt-out lists and numbers per customer: the api's send screen and the inbound handler share
  // it in this process; other processes hear of changes over the bus.
  const localCompliance = createComplianceCache(db, { ttlMs: config.SMSGW_COMPLIANCE_CACHE_MS })
  const sharedCompliance = bus
    ? await shareComplianceChanges(localCompliance, bus, (err) => reporter.error('compliance broadcast', err))
    : undefined
  const compliance = sharedCompliance ?? localCompliance
  let pipeline: Pipeline | undefined
  let stopInbound: (() => Promise<void>) | undefined
  // With the api in the same process, delivery gets a pool of its own: hundreds of concurrent
  // worker handlers must not queue the accept path's group commits behind them.
  const deliveryDb =
    config.DATABASE_URL && roles.api && delivers ? await openDb(config, 'smsgw-delivery') : db
  if (bus && (roles.dispatcher || roles.worker)) {
    // Keyword replies are accepted and charged like any send, through a biller of their own.
    const replyBiller = createBiller({
      db: deliveryDb,
      render: renderAccepted,
      handoff: (messages) => pipeline?.dispatcher?.handoff(messages),
    })
    const replyRates = createRateCache(deliveryDb, 'USD', config.SMSGW_AUTH_CACHE_MS)
    const inbound = createInboundHandler({
      db: deliveryDb,
      changes: compliance,
      replies: {
        db: deliveryDb,
        priceFor: (country) => replyRates.priceFor(country),
        accept: async (message) => {
          const out = await replyBiller.accept({ message })
          if (out.kind === 'accepted') pipeline?.dispatcher?.wake()
          return out
        },
      },
      ...inboundMetrics(registry),
      onError: (err) => reporter.error('inbound', err),
    })
    stopInbound = async () => {
      await inbound.drain()
      await replyBiller.drain()
    }
    pipeline = createPipeline({
      onInbound: (carrier, m) => inbound.handle(carrier, m),
      registry,
      tracing: traces.tracing,
      db: deliveryDb,
      bus,
      carriers,
      roles: { dispatcher: roles.dispatcher, worker: roles.worker },
      worker: { leaseMs: config.SMSGW_DELIVERY_LEASE_MS },
      receiptGraceS: config.SMSGW_RECEIPT_GRACE_S,
      makeCarrier: (c) => createCarrier(c, { onSmppEvent: reporter.carrierEvent }),
      onError: (err, where) => reporter.error(where, err),
      onUnmatchedReceipts: (carrier, count, example) =>
        logger.warn(
          { carrier, count, example },
          'receipts matched no message; parked until their carrier id is recorded (24 h at most)',
        ),
    })
    await pipeline.start()
  }
  // Status events leave PostgreSQL for the bus where the dispatcher runs (one relay publishes at a time).
  const relay =
    bus && roles.dispatcher
      ? createStatusEventRelay({
          db: deliveryDb,
          bus,
          onPublished: (n) => statusEvents.inc(n),
          onError: (err) => reporter.error('status event relay', err),
        })
      : undefined
  relay?.start()
  // Usage rollups are recomputed where the relay runs (one writer at a time under a lock).
  const rollups =
    bus && roles.dispatcher
      ? createRollupConsumer({
          db: deliveryDb,
          bus,
          intervalMs: config.SMSGW_ROLLUP_INTERVAL_MS,
          onPass: (p) => rollupLag.set(p.lagMs / 1000),
          onError: (err) => reporter.error('rollups', err),
        })
      : undefined
  await rollups?.start()
  // ClickHouse (optional): its own sink where the rollups run; usage and reports read from it.
  const clickhouse = config.CLICKHOUSE_URL ? createClickHouse(config.CLICKHOUSE_URL) : undefined
  if (clickhouse && config.CLICKHOUSE_URL) await ensureClickHouseSchema(clickhouse, config.CLICKHOUSE_URL)
  const chSink =
    clickhouse && bus && roles.dispatcher
      ? createClickHouseSink({
          db: deliveryDb,
          bus,
          ch: clickhouse,
          onError: (err) => reporter.error('clickhouse sink', err),
        })
      : undefined
  await chSink?.start()
  let webhookKey: Buffer | undefined
  const resolveKey = () => (webhookKey ??= resolveWebhookKey(config))
  // The webhooks role gets a pool of its own when other roles share the process: under load the
  // workers' hundreds of handlers queue on deliveryDb, and the role's claims and group commits
  // waited behind them (bench e2e --webhooks: 37 webhooks/s during load, 610/s once it ended).
  const webhooksDb =
    bus && roles.webhooks && config.DATABASE_URL && (roles.api || roles.dispatcher || roles.worker)
      ? await openDb(config, 'smsgw-webhooks', { poolSize: WEBHOOKS_POOL })
      : deliveryDb
  const webhooks =
    bus && roles.webhooks
      ? await startWebhookRole({
          config,
          db: webhooksDb,
          bus,
          key: resolveKey,
          registry,
          onError: (err) => reporter.error('webhooks', err),
          onRefused: (url, detail) =>
            logger.warn({ origin: new URL(url).origin, detail }, 'webhook destination refused'),
        })
      : undefined

  let app: FastifyInstance | undefined
  let readDb: Db | undefined
  let adminToken: ReturnType<typeof resolveAdminToken> | undefined
  const rateLimiter = openRateLimiter(config)
  if (roles.api) {
    adminToken = resolveAdminToken(config)
    const delivery = pipeline
    readDb = openReadDb(config, `smsgw-${role}`)
    app = await buildApp({
      config,
      db,
      ...(readDb ? { readDb } : {}),
      ...(clickhouse ? { usageReader: createClickHouseUsageReader(clickhouse) } : {}),
      adminToken: adminToken.token,
      rateLimiter,
      logger,
      registry,
      tracing: traces.tracing,
      readiness: bus ? { bus: () => bus.healthy() } : {},
      ...(bus ? { bus } : {}),
      serveMetrics: config.SMSGW_METRICS_PORT === undefined,
      webhookKey: resolveKey,
      compliance,
      ...(webhooks ? { onWebhookQueued: webhooks.wake } : {}),
      // The dispatcher in this process gets the accepted jobs from memory (ADR 6, issue 12); it
      // still decides from the outbox what to release and when.
      ...(delivery?.dispatcher
        ? {
            onAccepted: () => delivery.dispatcher?.wake(),
            handoff: (messages: NewMessage[]) => delivery.dispatcher?.handoff(messages),
          }
        : {}),
      ...(delivery && roles.worker
        ? {
            providerWebhooks: { auth: createWebhookAuth(carriers), sink: delivery.webhook },
            providers: () => delivery.links.map(providerView),
          }
        : bus
          ? { providerWebhooks: { auth: createWebhookAuth(carriers), sink: relayWebhooks(bus, carriers) } }
          : {}),
    })
  }

  let opsApp: FastifyInstance | undefined
  closeWithGrace({ delay: 15_000 }, async ({ err, signal }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    stopMaintenance()
    // In-flight requests finish; a keep-alive connection whose request ends after close() began
    // (a carrier's receipt, our own simulator's MO) would hold the server open: Node closes idle
    // connections once, when close() is called, so they are closed again as they go idle.
    const idle = setInterval(() => app?.server.closeIdleConnections(), 200)
    await app?.close().finally(() => clearInterval(idle))
    await opsApp?.close()
    await pipeline?.stop()
    await stopInbound?.()
    await sharedCompliance?.stop()
    await relay?.stop()
    await rollups?.stop()
    await chSink?.stop()
    await webhooks?.stop()
    await bus?.close()
    await sim?.close()
    await traces.shutdown().catch((e: unknown) => logger.warn({ err: e }, 'spans not exported at shutdown'))
    await rateLimiter.close()
    if (webhooksDb !== deliveryDb) await webhooksDb.close()
    if (deliveryDb !== db) await deliveryDb.close()
    if (maintenanceDb !== db) await maintenanceDb.close()
    await readDb?.close()
    await db.close()
    reporter.close()
  })

  const metricsPort = config.SMSGW_METRICS_PORT
  let metricsUrl: string | undefined
  if (!app || metricsPort !== undefined) {
    // Health and metrics on a port of their own: SMSGW_METRICS_PORT, or PORT when there is no api.
    const ops = await startOpsServer({
      db,
      registry,
      checks: bus ? { bus: () => bus.healthy() } : {},
      port: metricsPort ?? config.PORT,
      host: config.HOST,
      metricsToken: config.SMSGW_METRICS_TOKEN,
    })
    opsApp = ops.app
    metricsUrl = `${ops.address}/metrics`
    if (app) logger.info({ metrics: metricsUrl }, 'metrics on their own port')
  }
  if (!app) {
    logger.info({ roles: role, carriers: carriers.map((c) => c.name), metrics: metricsUrl }, 'running')
    return
  }
  const address = await app.listen({ port: config.PORT, host: config.HOST })
  // The simulated HTTP carrier reports receipts to our provider endpoint.
  sim?.setOptions({
    dlrUrl: `${address}/v1/providers/sim-http/dlr`,
    inboundUrl: `${address}/v1/providers/sim-http/inbound`,
  })
  if (opts.banner && adminToken) {
    const tokenNote =
      adminToken.source === 'env'
        ? 'from SMSGW_ADMIN_TOKEN'
        : `stored in ${adminToken.path}${adminToken.source === 'generated' ? ', new' : ''}`
    const dbNote = config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.SMSGW_DATA_DIR}`
    const busNote = config.NATS_URL ? 'NATS JetStream' : 'in-process bus'
    const carrierNote = sim ? 'two simulated carriers' : `carriers: ${carriers.map((c) => c.name).join(', ')}`
    process.stdout.write(
      startBanner(address, adminToken.token, tokenNote, `${dbNote}, ${busNote}, ${carrierNote}`),
    )
  } else {
    logger.info({ address, roles: role }, 'listening')
  }
}
