import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

// Invariant 6 at the carrier: a flood never delays other customers' messages.
describe('fairness at the carrier (PostgreSQL, pipeline, SMPP simulator)', () => {
  let pg: FreshDatabase
  let db: Db
  let sim: CarrierSim
  let bus: Bus
  let pipeline: Pipeline

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 8 })
    sim = await createCarrierSim({ receipts: false })
    bus = createMemoryBus()
  })
  after(async () => {
    await pipeline?.stop()
    await bus?.close()
    await sim?.close()
    await db?.close()
    await pg?.drop()
  })

  it('100 customers reach the carrier while a 50,000-message bulk flood is still draining', async () => {
    const whale = await fundedCustomer(db, { rateLimitMps: 1_000_000, name: 'whale' })
    await acceptMany(db, whale, 50_000, 'bulk')
    const small = new Set<string>()
    for (let i = 0; i < 100; i++) {
      const c = await fundedCustomer(db, { name: `small-${i}` })
      for (const id of await acceptMany(db, c, 1, 'bulk')) small.add(id)
    }
    pipeline = createPipeline({
      makeCarrier: createCarrier,
      db,
      bus,
      carriers: [simSmppCarrier('sim', sim.smppPort, { window: 20 })],
      dispatcher: { window: 200 },
    })
    await pipeline.start()
    const submittedSmall = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitted' AND message_id = ANY($1::uuid[])",
            [[...small]],
          )
        ).rows[0]?.n,
      )
    await waitFor(
      async () => (await submittedSmall()) >= 100,
      'the 100 small customers at the carrier',
      120_000,
      20,
    )
    // Order at the carrier, not time: how much of the flood went out before the last small message.
    const { rows } = await db.query<{ whale_before: string; whale_waiting: string }>(
      `SELECT (SELECT count(*) FROM carrier_refs WHERE customer_id = $1
                AND created_at <= (SELECT max(created_at) FROM carrier_refs WHERE message_id = ANY($2::uuid[])))::text AS whale_before,
              (SELECT count(*) FROM outbox WHERE customer_id = $1)::text AS whale_waiting`,
      [whale, [...small]],
    )
    const whaleBefore = Number(rows[0]?.whale_before)
    assert.ok(
      whaleBefore < 1000,
      `${whaleBefore} flood messages reached the carrier before the last small one`,
    )
    assert.ok(Number(rows[0]?.whale_waiting) > 40_000, 'the flood is still draining, in PostgreSQL')
    assert.deepEqual(sim.counters().duplicates, {})
  })
})
