import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import type { CarrierConfig } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { relayWebhooks } from '../../../src/carriers/http/webhook-relay.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { createWebhookAuth, newWebhookSecret } from '../../../src/carriers/webhook-auth.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import { signedPost } from '../../helpers/webhooks.ts'

// An api process without a worker (smsgw api) receives an HTTP provider's receipts: it stores them
// on the bus and a worker in another process (its own pool and bus connection here) applies them.
describe('HTTP provider webhooks reach the worker when the api runs alone', () => {
  const stream = `RELAY_${randomBytes(4).toString('hex')}`
  let pg: FreshDatabase
  let api: TestApp
  let apiBus: Bus
  let workerBus: Bus
  let sim: CarrierSim
  let pipeline: Pipeline
  let workerDb: ReturnType<typeof createPostgresDb>
  let auth: { authorization: string }

  before(async () => {
    pg = await freshDatabase()
    // The simulator signs its receipts with the secret the api knows from the carrier file.
    const webhookSecret = newWebhookSecret()
    sim = await createCarrierSim({ receiptDelayMs: 10, webhookSecret })
    const carriers: CarrierConfig[] = [
      {
        name: 'sim-http',
        type: 'http',
        url: `http://127.0.0.1:${sim.httpPort}/messages`,
        weight: 1,
        webhook_secret: webhookSecret,
      },
    ]
    const natsOpts = { servers: NATS_URL, stream, subjectPrefix: stream.toLowerCase() }
    apiBus = await createNatsBus(natsOpts)
    workerBus = await createNatsBus(natsOpts)
    api = await startApp(pg.url, {
      deps: {
        providerWebhooks: { auth: createWebhookAuth(carriers), sink: relayWebhooks(apiBus, carriers) },
      },
    })
    const address = await api.app.listen({ port: 0, host: '127.0.0.1' })
    sim.setOptions({ dlrUrl: `${address}/v1/providers/sim-http/dlr` })
    await setRates(api.app)
    auth = (await createCustomer(api.app, { credit: '10.00' })).auth
    workerDb = createPostgresDb({ url: pg.url, poolSize: 4 })
    pipeline = createPipeline({
      makeCarrier: createCarrier,
      db: workerDb,
      bus: workerBus,
      carriers,
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
  })
  after(async () => {
    await pipeline?.stop()
    await workerDb?.close()
    await workerBus?.close()
    await apiBus?.close()
    await api?.close()
    await sim?.close()
    await deleteStream(stream)
    await pg?.drop()
  })

  it('a message sent through the HTTP carrier ends delivered from the relayed receipt', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await api.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: auth,
        payload: sendBody(),
      })
      assert.equal(r.statusCode, 202, r.body)
      ids.push(r.json().id)
    }
    let statuses: string[] = []
    await waitFor(
      async () => {
        const { rows } = await api.db.query<{ status: string }>(
          'SELECT status FROM messages WHERE id = ANY($1::uuid[])',
          [ids],
        )
        statuses = rows.map((r) => r.status)
        return statuses.every((s) => s === 'delivered')
      },
      'every message delivered',
      30_000,
      50,
    ).catch(() => {}) // the assertion below names what is missing
    assert.deepEqual(
      statuses,
      ids.map(() => 'delivered'),
    )
    assert.ok(sim.counters().receiptsSent >= 5)
  })

  it('an unknown provider is 404, a malformed receipt 400, an unsigned one 401, and none reaches the bus', async () => {
    const unknown = await api.app.inject({
      method: 'POST',
      url: '/v1/providers/nope/dlr',
      payload: { carrier_id: 'x', status: 'delivered' },
    })
    assert.equal(unknown.statusCode, 404, unknown.body)
    const bad = await api.app.inject(
      signedPost('/v1/providers/sim-http/dlr', { status: 42 }, sim.options().webhookSecret as string),
    )
    assert.equal(bad.statusCode, 400, bad.body)
    // The api process checks the signature itself: a forgery never reaches the bus.
    const forged = await api.app.inject({
      method: 'POST',
      url: '/v1/providers/sim-http/dlr',
      payload: { carrier_id: 'x', status: 'undelivered' },
    })
    assert.equal(forged.statusCode, 401, forged.body)
    assert.equal(forged.json().error.code, 'unauthenticated')
    assert.equal(await apiBus.pending('provider-webhooks'), 0)
  })
})
