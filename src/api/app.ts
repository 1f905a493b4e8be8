import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify'
import type { Registry } from 'prom-client'
import { createKeyCache } from '../accounts/key-cache.ts'
import { shareKeyEvictions } from '../accounts/shared-key-cache.ts'
import type { RecipientRefusal, ScreenRecipients } from '../batches/screen.ts'
import { createBiller } from '../billing/biller.ts'
import { createRateCache } from '../billing/rates.ts'
import type { Bus } from '../bus/bus.ts'
import { type ComplianceCache, createComplianceCache } from '../compliance/compliance-cache.ts'
import { createScreener, type Screener } from '../compliance/screen.ts'
import { numericOnlyCountries } from '../compliance/sender-policy.ts'
import { shareComplianceChanges } from '../compliance/shared-cache.ts'
import { type Config, trustProxyOf } from '../config/config.ts'
import { dashboardRoutes } from '../dashboard/routes.ts'
import type { Db } from '../db/db.ts'
import type { NewMessage } from '../domain/message.ts'
import { announceEndpointChange } from '../events/endpoint-presence.ts'
import { createStreamHub } from '../events/stream-hub.ts'
import { registerStreamMetrics } from '../events/stream-metrics.ts'
import { resolveWebhookKey } from '../events/webhook-secrets.ts'
import type { RateLimiter } from '../limits/rate-limiter.ts'
import { TRACING_OFF, type Tracing } from '../observability/tracing.ts'
import { createPgUsageReader, type UsageReader } from '../reporting/usage.ts'
import { unprocessable } from './errors.ts'
import { createApiMetrics } from './metrics.ts'
import { createAuthenticator } from './plugins/auth.ts'
import { frameworkError, registerErrorHandling } from './plugins/errors.ts'
import { rejectUnstorableText } from './plugins/text-guard.ts'
import { traceRequests } from './plugins/tracing.ts'
import { renderAccepted } from './render.ts'
import { adminCustomerRoutes } from './routes/admin/customers.ts'
import { adminProviderRoutes, type ProviderView } from './routes/admin/providers.ts'
import { adminRateRoutes } from './routes/admin/rates.ts'
import { adminReportRoutes } from './routes/admin/reports.ts'
import { balanceRoutes } from './routes/balance.ts'
import { batchRoutes } from './routes/batches/index.ts'
import { eventStreamRoutes } from './routes/event-stream.ts'
import { eventsRoutes } from './routes/events.ts'
import { adminInboundRoutes, inboundMessageRoutes } from './routes/inbound-messages.ts'
import { messageCancelRoutes } from './routes/messages/cancel.ts'
import { messagesRoutes } from './routes/messages/index.ts'
import { createSendLimiter } from './routes/messages/send-limit.ts'
import { adminNumberRoutes, numberRoutes } from './routes/numbers.ts'
import { operationsRoutes } from './routes/operations.ts'
import { optOutRoutes } from './routes/opt-outs.ts'
import { type ProviderWebhooks, providerRoutes } from './routes/providers.ts'
import { usageRoutes } from './routes/usage.ts'
import { webhookEndpointRoutes } from './routes/webhook-endpoints.ts'
import { createValidatorCompiler } from './validation.ts'

export interface AppDeps {
  config: Config
  db: Db
  adminToken: string
  rateLimiter: RateLimiter
  logger?: FastifyBaseLogger
  /** The platform's billing currency (default USD). */
  currency?: string
  /** Called after a message was accepted (wakes an in-process dispatcher). */
  onAccepted?: () => void
  /**
   * Called right after an accept group committed with its accepted messages: a dispatcher in
   * this process keeps their jobs so it need not read them back (Dispatcher.handoff). Default: none.
   */
  handoff?: (messages: NewMessage[]) => void
  /** Extra readiness checks (the bus), besides the database. */
  readiness?: Record<string, () => Promise<boolean>>
  /** Providers driven by a delivery worker in this process (GET /v1/admin/providers); default none. */
  providers?: () => ProviderView[]
  /** The process's metrics registry (shared with the pipeline); default: a new one. */
  registry?: Registry
  /** Receipts and MO from HTTP providers (their authentication and where they go); absent: no provider routes. */
  providerWebhooks?: ProviderWebhooks
  /** Whether GET /metrics is on this server (default true; false when SMSGW_METRICS_PORT serves it). */
  serveMetrics?: boolean
  /** The key sealing webhook secrets; default: resolved from config on first use. */
  webhookKey?: () => Buffer
  /** Called after an event was queued for redelivery (wakes a webhook role in this process). */
  onWebhookQueued?: () => void
  /**
   * The bus of this process: revoked keys reach the other api processes at once over it, and
   * GET /v1/events/stream follows it. Absent: revokes take up to SMSGW_AUTH_CACHE_MS elsewhere and
   * the stream answers 503.
   */
  bus?: Bus
  /** Where usage and report reads go (DATABASE_READ_URL); default: db. */
  readDb?: Db
  /** Usage and report reads (ClickHouse when configured); default: the PostgreSQL rollups on readDb. */
  usageReader?: UsageReader
  /** Spans of requests and accept commits (ADR 16); default off. */
  tracing?: Tracing
  /** Per-recipient screening of batches (opt-outs, sender rules); default: refuses nobody. */
  screenRecipients?: ScreenRecipients
  /**
   * Opt-out lists and numbers per customer (the send screen), shared with the inbound handler of
   * this process; default: a new one, its changes shared over `bus`.
   */
  compliance?: ComplianceCache
}

/** The compliance screen (opt-outs, sender rules) as the batches' screening step. */
function screenBatch(screener: Screener): ScreenRecipients {
  return async (customerId, from, recipients) => {
    const screening = await screener.screen(customerId, from, recipients)
    if (screening.sender) throw unprocessable(screening.sender.code, screening.sender.message, 'from')
    const refused = new Map<number, RecipientRefusal>()
    screening.recipients.forEach((r, i) => {
      if (r) refused.set(i, { code: r.code, message: r.message })
    })
    return refused
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/

/**
 * What a URL shows in the logs: the path, with every run of 6+ digits (a phone number in
 * `/v1/opt_outs/{phone}`) cut to its first 4, and the names of the query parameters, never their
 * values (`?to=%2B1-415-555-0123` is a phone number in any spelling).
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?')
  const path = (q < 0 ? url : url.slice(0, q)).replace(
    /\d{6,}/g,
    (m) => m.slice(0, 4) + '*'.repeat(m.length - 4),
  )
  if (q < 0) return path
  const keys = [...new URLSearchParams(url.slice(q + 1)).keys()].map((k) => `${k.slice(0, 64)}=…`)
  return keys.length ? `${path}?${keys.join('&')}` : path
}
const serializeRequest = (r: { method: string; url: string; ip?: string }) => ({
  method: r.method,
  url: loggableUrl(r.url),
  ip: r.ip,
})

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, db } = deps
  const currency = deps.currency ?? 'USD'
  const app = Fastify({
    // The request serializer is set once on the app's logger: a childLoggerFactory adding it to
    // every request's child copied the serializers (and Fastify re-validated the child) per
    // request, ~0.5 % of the api's CPU under the accept bench.
    loggerInstance: deps.logger?.child({}, { serializers: { req: serializeRequest } }),
    // The server is made here so Node's own timers cut slow clients: on Node 20 Fastify's
    // requestTimeout, set after the server exists, did not end a body trickled a byte at a time.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const headersTimeout = Math.min(config.SMSGW_HEADERS_TIMEOUT_MS, config.SMSGW_REQUEST_TIMEOUT_MS)
      const server = createServer(
        {
          requestTimeout: config.SMSGW_REQUEST_TIMEOUT_MS,
          headersTimeout,
          keepAliveTimeout: config.SMSGW_KEEP_ALIVE_TIMEOUT_MS,
          // How often Node checks those two; the default (30 s) would let a 2 s timeout run 30 s.
          connectionsCheckingInterval: Math.min(30_000, Math.ceil(headersTimeout / 2)),
        },
        handler,
      )
      server.setTimeout(config.SMSGW_CONNECTION_TIMEOUT_MS)
      return server
    },
    trustProxy: trustProxyOf(config),
    bodyLimit: config.SMSGW_BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: frameworkError,
    requestIdHeader: false,
    genReqId: (req) => {
      const sent = req.headers['x-request-id']
      return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : `req_${randomUUID()}`
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Bodies are JSON only; anything else is a 415, not a string handed to the validator.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(createValidatorCompiler())
  app.setReplySerializer((payload) => JSON.stringify(payload))
  const metrics = createApiMetrics(deps.registry)
  registerErrorHandling(app, (code) => metrics.rejected.inc({ code }))

  const tracing = deps.tracing ?? TRACING_OFF
  traceRequests(app, tracing, (url) => loggableUrl(url.split('?', 1)[0] ?? url))
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  app.addHook('preValidation', rejectUnstorableText)
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    )
  })

  let keys = createKeyCache(db, { ttlMs: config.SMSGW_AUTH_CACHE_MS })
  if (deps.bus) {
    const shared = await shareKeyEvictions(keys, deps.bus, (err) =>
      app.log.warn({ err }, 'key eviction not broadcast'),
    )
    app.addHook('onClose', () => shared.stop())
    keys = shared
  }
  const rates = createRateCache(db, currency, config.SMSGW_AUTH_CACHE_MS)
  let compliance = deps.compliance
  if (!compliance) {
    compliance = createComplianceCache(db, { ttlMs: config.SMSGW_COMPLIANCE_CACHE_MS })
    if (deps.bus) {
      const shared = await shareComplianceChanges(compliance, deps.bus, (err) =>
        app.log.warn({ err }, 'compliance change not broadcast'),
      )
      app.addHook('onClose', () => shared.stop())
      compliance = shared
    }
  }
  const screener = createScreener({
    db,
    cache: compliance,
    numericOnly: numericOnlyCountries(config.SMSGW_NUMERIC_SENDER_COUNTRIES),
  })
  const auth = createAuthenticator({
    adminToken: deps.adminToken,
    keys,
    reads: { limiter: deps.rateLimiter, perSecond: config.SMSGW_READ_RATE_LIMIT_RPS },
    writes: { limiter: deps.rateLimiter, perSecond: config.SMSGW_WRITE_RATE_LIMIT_RPS },
  })
  const biller = createBiller({
    db,
    render: renderAccepted,
    maxBatch: config.SMSGW_GROUP_MAX,
    concurrency: config.SMSGW_GROUP_CONCURRENCY,
    onGroup: (n) => metrics.groupSize.observe(n),
    onCommitted: (path, seconds) => metrics.groupSeconds.observe({ path }, seconds),
    ...(deps.handoff ? { handoff: deps.handoff } : {}),
  })
  app.addHook('onClose', async () => {
    await biller.drain()
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'smsgw', version: '1', description: 'SMS gateway public API (v1)' },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(operationsRoutes, {
    db,
    registry: metrics.registry,
    checks: deps.readiness ?? {},
    metrics: deps.serveMetrics === false ? false : { token: config.SMSGW_METRICS_TOKEN },
  })
  const webhookPolicy = { allowInsecure: config.SMSGW_WEBHOOK_ALLOW_INSECURE === 'true' }
  await app.register(messagesRoutes, {
    db,
    ...(deps.readDb ? { readDb: deps.readDb } : {}),
    biller,
    rates,
    auth,
    metrics,
    limit: createSendLimiter(deps.rateLimiter),
    callbackPolicy: webhookPolicy,
    screener,
    onAccepted: deps.onAccepted,
    tracing,
  })
  await app.register(batchRoutes, {
    db,
    biller,
    rates,
    auth,
    metrics,
    limit: createSendLimiter(deps.rateLimiter),
    callbackPolicy: webhookPolicy,
    onAccepted: deps.onAccepted,
    screen: deps.screenRecipients ?? screenBatch(screener),
  })
  await app.register(messageCancelRoutes, { db, auth })
  if (deps.providerWebhooks) await app.register(providerRoutes, deps.providerWebhooks)
  await app.register(balanceRoutes, { db, auth })
  await app.register(adminCustomerRoutes, {
    db,
    auth,
    keys,
    currency,
    defaultRateLimitMps: config.SMSGW_DEFAULT_RATE_LIMIT_MPS,
  })
  await app.register(adminRateRoutes, { db, auth, rates, currency })
  await app.register(adminProviderRoutes, { auth, providers: deps.providers ?? (() => []) })
  let webhookKey: Buffer | undefined
  const key = deps.webhookKey ?? (() => (webhookKey ??= resolveWebhookKey(config)))
  await app.register(eventsRoutes, { db, auth, onQueued: deps.onWebhookQueued })
  const hub = deps.bus
    ? createStreamHub({
        db,
        bus: deps.bus,
        heartbeatMs: config.SMSGW_STREAM_HEARTBEAT_MS,
        onError: (err) => app.log.error({ err }, 'live stream'),
      })
    : undefined
  // Before the server stops accepting: open streams would otherwise hold the close for ever.
  if (hub) {
    app.addHook('preClose', () => hub.close())
    registerStreamMetrics(metrics.registry, hub)
  }
  await app.register(websocket)
  await app.register(eventStreamRoutes, {
    db,
    auth,
    hub,
    maxBufferBytes: config.SMSGW_STREAM_MAX_BUFFER_BYTES,
    stallMs: 2 * config.SMSGW_STREAM_HEARTBEAT_MS,
  })
  const readDb = deps.readDb ?? db
  const usageReader = deps.usageReader ?? createPgUsageReader(readDb)
  await app.register(usageRoutes, { auth, reader: usageReader })
  await app.register(adminReportRoutes, { db: readDb, auth, reader: usageReader, currency })
  await app.register(adminNumberRoutes, { db, auth, changes: compliance })
  await app.register(numberRoutes, { db, auth })
  await app.register(optOutRoutes, { db, auth, changes: compliance })
  await app.register(inboundMessageRoutes, { db, auth })
  await app.register(adminInboundRoutes, { db, auth })
  const busForEndpoints = deps.bus
  await app.register(webhookEndpointRoutes, {
    db,
    auth,
    key,
    policy: webhookPolicy,
    ...(busForEndpoints
      ? {
          endpointsChanged: (customerId: string) => {
            announceEndpointChange(busForEndpoints, customerId).catch((err) =>
              app.log.warn({ err }, 'webhook endpoint change not broadcast'),
            )
          },
        }
      : {}),
  })
  await app.register(dashboardRoutes, {
    db,
    admin: auth.admin,
    registry: metrics.registry,
    onError: (err) => app.log.warn({ err }, 'dashboard metrics'),
  })
  return app
}
