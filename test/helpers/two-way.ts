import { renderAccepted } from '../../src/api/render.ts'
import { createBiller } from '../../src/billing/biller.ts'
import { createRateCache } from '../../src/billing/rates.ts'
import type { Bus } from '../../src/bus/bus.ts'
import { createMemoryBus } from '../../src/bus/memory-bus.ts'
import { simSmppCarrier } from '../../src/carriers/config.ts'
import { createCarrier } from '../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../src/carriers/sim/carrier-sim.ts'
import { type ComplianceCache, createComplianceCache } from '../../src/compliance/compliance-cache.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../src/delivery/pipeline.ts'
import { createInboundHandler, type InboundHandler } from '../../src/inbound/inbound-handler.ts'
import { setRates, startApp, type TestApp } from './app.ts'
import { type FreshDatabase, freshDatabase } from './pg.ts'

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
  const app = await startApp(pg.url, { env, db, deps: { compliance } })
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
    carriers: [simSmppCarrier('sim-smpp', sim.smppPort, { window: 10 })],
    dispatcher: { idleMs: 5 },
    onInbound: (carrier, m) => inbound.handle(carrier, m),
  })
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
