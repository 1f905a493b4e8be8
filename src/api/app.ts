import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify'
import type { Registry } from 'prom-client'
import { createKeyCache } from '../accounts/key-cache.ts'
import { createBiller } from '../billing/biller.ts'
import { createRateCache } from '../billing/rates.ts'
import type { Bus } from '../bus/bus.ts'
import type { Config } from '../config/config.ts'
import type { Db } from '../db/db.ts'
import { createStreamHub } from '../events/stream-hub.ts'
import { registerStreamMetrics } from '../events/stream-metrics.ts'
import { resolveWebhookKey } from '../events/webhook-secrets.ts'
import type { RateLimiter } from '../limits/rate-limiter.ts'
import { createApiMetrics } from './metrics.ts'
import { createAuthenticator } from './plugins/auth.ts'
import { registerErrorHandling } from './plugins/errors.ts'
import { renderAccepted } from './render.ts'
import { adminCustomerRoutes } from './routes/admin/customers.ts'
import { adminProviderRoutes, type ProviderView } from './routes/admin/providers.ts'
import { adminRateRoutes } from './routes/admin/rates.ts'
import { balanceRoutes } from './routes/balance.ts'
import { eventStreamRoutes } from './routes/event-stream.ts'
import { eventsRoutes } from './routes/events.ts'
import { messagesRoutes } from './routes/messages/index.ts'
import { createSendLimiter } from './routes/messages/send-limit.ts'
import { operationsRoutes } from './routes/operations.ts'
import { providerRoutes, type WebhookSink } from './routes/providers.ts'
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
  /** Extra readiness checks (the bus), besides the database. */
  readiness?: Record<string, () => Promise<boolean>>
  /** Providers driven by a delivery worker in this process (GET /v1/admin/providers); default none. */
  providers?: () => ProviderView[]
  /** The process's metrics registry (shared with the pipeline); default: a new one. */
  registry?: Registry
  /** Receipts and MO from HTTP providers; absent when no delivery worker runs in this process. */
  providerWebhooks?: WebhookSink
  /** The key sealing webhook secrets; default: resolved from config on first use. */
  webhookKey?: () => Buffer
  /** Called after an event was queued for redelivery (wakes a webhook role in this process). */
  onWebhookQueued?: () => void
  /** The bus of this process: GET /v1/events/stream follows it (without one the stream answers 503). */
  bus?: Bus
}

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Phone numbers never reach the logs whole: every run of 6+ digits in a URL keeps only its first 4. */
const maskUrl = (url: string) => url.replace(/\d{6,}/g, (m) => m.slice(0, 4) + '*'.repeat(m.length - 4))
const serializeRequest = (r: { method: string; url: string; ip?: string }) => ({
  method: r.method,
  url: maskUrl(r.url),
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
    loggerInstance: deps.logger,
    bodyLimit: config.SMSGW_BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    requestIdHeader: false,
    childLoggerFactory: (logger, bindings, opts) =>
      logger.child(bindings, { ...opts, serializers: { ...opts.serializers, req: serializeRequest } }),
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

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
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

  const keys = createKeyCache(db, config.SMSGW_AUTH_CACHE_MS)
  const rates = createRateCache(db, currency, config.SMSGW_AUTH_CACHE_MS)
  const auth = createAuthenticator(deps.adminToken, keys)
  const biller = createBiller({
    db,
    render: renderAccepted,
    maxBatch: config.SMSGW_GROUP_MAX,
    concurrency: config.SMSGW_GROUP_CONCURRENCY,
    onGroup: (n) => metrics.groupSize.observe(n),
    onCommitted: (path, seconds) => metrics.groupSeconds.observe({ path }, seconds),
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

  await app.register(operationsRoutes, { db, registry: metrics.registry, checks: deps.readiness ?? {} })
  await app.register(messagesRoutes, {
    db,
    biller,
    rates,
    auth,
    metrics,
    limit: createSendLimiter(deps.rateLimiter),
    onAccepted: deps.onAccepted,
  })
  if (deps.providerWebhooks) await app.register(providerRoutes, { sink: deps.providerWebhooks })
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
  await app.register(webhookEndpointRoutes, {
    db,
    auth,
    key,
    policy: { allowInsecure: config.SMSGW_WEBHOOK_ALLOW_INSECURE === 'true' },
  })
  return app
}
