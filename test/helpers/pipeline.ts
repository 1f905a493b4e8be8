import type { Registry } from 'prom-client'
import type { Bus } from '../../src/bus/bus.ts'
import { createMemoryBus } from '../../src/bus/memory-bus.ts'
import type { CarrierConfig } from '../../src/carriers/config.ts'
import { createCarrier } from '../../src/carriers/create-carrier.ts'
import { createWebhookAuth } from '../../src/carriers/webhook-auth.ts'
import { createPipeline, type Pipeline, type PipelineOptions } from '../../src/delivery/pipeline.ts'
import { createCustomer, setRates, startApp, type TestApp } from './app.ts'

export interface AppWithPipeline {
  t: TestApp
  bus: Bus
  pipeline: Pipeline
  /** A funded customer's auth header. */
  auth: { authorization: string }
  close(): Promise<void>
}

/**
 * `smsgw start` in miniature: an api whose provider routes authenticate against `carriers` and
 * hand webhooks to an in-process pipeline (in-process bus) that delivers through them.
 */
export async function startAppWithPipeline(
  url: string,
  carriers: CarrierConfig[],
  opts: { registry?: Registry; pipeline?: Partial<PipelineOptions> } = {},
): Promise<AppWithPipeline> {
  const bus = createMemoryBus()
  let sink: Pipeline['webhook'] = async () => false
  const t = await startApp(url, {
    deps: {
      ...(opts.registry ? { registry: opts.registry } : {}),
      providerWebhooks: { auth: createWebhookAuth(carriers), sink: (...a) => sink(...a) },
    },
  })
  const pipeline = createPipeline({
    makeCarrier: createCarrier,
    db: t.db,
    bus,
    carriers,
    dispatcher: { idleMs: 5 },
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...opts.pipeline,
  })
  sink = pipeline.webhook
  await pipeline.start()
  await setRates(t.app)
  const { auth } = await createCustomer(t.app, { credit: '10.00' })
  return {
    t,
    bus,
    pipeline,
    auth,
    async close() {
      await pipeline.stop()
      await bus.close()
      await t.close()
    },
  }
}
