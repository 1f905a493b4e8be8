import { renderAccepted } from '../../src/api/render.ts'
import { createBiller } from '../../src/billing/biller.ts'
import { createRateCache } from '../../src/billing/rates.ts'
import type { Bus } from '../../src/bus/bus.ts'
import { createMemoryBus } from '../../src/bus/memory-bus.ts'
import { type CarrierConfig, simSmppCarrier } from '../../src/carriers/config.ts'
import { createCarrier } from '../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../src/carriers/sim/carrier-sim.ts'
import { createWebhookAuth, newWebhookSecret } from '../../src/carriers/webhook-auth.ts'
import { type ComplianceCache, createComplianceCache } from '../../src/compliance/compliance-cache.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../src/delivery/pipeline.ts'
import { createInboundHandler, type InboundHandler } from '../../src/inbound/inbound-handler.ts'
import { setRates, startApp, type TestApp } from './app.ts'
import { type FreshDatabase, freshDatabase } from './pg.ts'

/** The secret the HTTP carrier `sim-http` signs its MO with. */
export const HTTP_SECRET = newWebhookSecret()

export interface TwoWay {
  pg: FreshDatabase
  t: TestApp
  sim: CarrierSim
  bus: Bus
  pipeline: Pipeline
  inbound: InboundHandler
  compliance: ComplianceCache
  close(): Promise<void>
}

/**
 * `smsgw start` in miniature for two-way tests: an api, a dispatcher + worker over the SMPP
 * simulator, and the inbound handler (routing, opt-outs, keyword replies billed through a biller
 * of its own) sharing the api's compliance cache.
 */
export async function startTwoWay(env: Record<string, string> = {}): Promise<TwoWay> {
  const pg = await freshDatabase()
  const bus = createMemoryBus()
  const sim = await createCarrierSim({ receiptDelayMs: 0 })
  const db = createPostgresDb({ url: pg.url, poolSize: 8 })
  const compliance = createComplianceCache(db, { ttlMs: 60_000 })
  // An HTTP carrier too, whose MO is POSTed (signed) to /v1/providers/sim-http/inbound.
  const carriers: CarrierConfig[] = [
    simSmppCarrier('sim-smpp', sim.smppPort, { window: 10 }),
    { name: 'sim-http', type: 'http', url: sim.httpUrl, weight: 0, webhook_secret: HTTP_SECRET },
  ]
  let sink: Pipeline['webhook'] = async () => false
  const app = await startApp(pg.url, {
    env,
    db,
    deps: { compliance, providerWebhooks: { auth: createWebhookAuth(carriers), sink: (...a) => sink(...a) } },
  })
  const t = app
  const biller = createBiller({ db: t.db, render: renderAccepted })
  const rates = createRateCache(t.db, 'USD', 0)
  let pipeline: Pipeline | undefined
  const inbound = createInboundHandler({
    db: t.db,
    changes: compliance,
    replies: {
      db: t.db,
      priceFor: (c) => rates.priceFor(c),
      accept: async (message) => {
        const out = await biller.accept({ message })
        pipeline?.dispatcher?.wake()
        return out
      },
    },
  })
  pipeline = createPipeline({
    makeCarrier: createCarrier,
    db: t.db,
    bus,
    carriers,
    dispatcher: { idleMs: 5 },
    onInbound: (carrier, m) => inbound.handle(carrier, m),
  })
  sink = pipeline.webhook
  await pipeline.start()
  await setRates(app.app)
  const p = pipeline
  return {
    pg,
    t: app,
    sim,
    bus,
    pipeline: p,
    inbound,
    compliance,
    async close() {
      await p.stop()
      await inbound.drain()
      await biller.drain()
      await bus.close()
      await app.close()
      await db.close()
      await sim.close()
      await pg.drop()
    },
  }
}
