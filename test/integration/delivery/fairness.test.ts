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

/** A fresh database, an SMPP simulator without receipts and a memory bus per suite; the test starts the pipeline. */
function carrierFixture() {
  const f = {} as {
    pg: FreshDatabase
    db: Db
    sim: CarrierSim
    bus: Bus
    pipeline?: Pipeline
    /** The number a `SELECT count(*)::text AS n …` returns. */
    count: (sql: string, params: unknown[]) => Promise<number>
    /** Starts the pipeline on the simulator (SMPP window 10) with these options. */
    start: (opts: Pick<Parameters<typeof createPipeline>[0], 'dispatcher' | 'worker'>) => Promise<void>
  }
  f.count = async (sql, params) => Number((await f.db.query<{ n: string }>(sql, params)).rows[0]?.n)
  f.start = async (opts) => {
    f.pipeline = createPipeline({
      makeCarrier: createCarrier,
      db: f.db,
      bus: f.bus,
      carriers: [simSmppCarrier('sim', f.sim.smppPort, { window: 10 })],
      ...opts,
    })
    await f.pipeline.start()
  }
  before(async () => {
    f.pg = await freshDatabase()
    f.db = createPostgresDb({ url: f.pg.url, poolSize: 8 })
    f.sim = await createCarrierSim({ receipts: false })
    f.bus = createMemoryBus()
  })
  after(async () => {
    await f.pipeline?.stop()
    await f.bus?.close()
    await f.sim?.close()
    await f.db?.close()
    await f.pg?.drop()
  })
  return f
}

// Invariant 6 at the carrier: a flood never delays other customers' messages.
describe('fairness at the carrier (PostgreSQL, pipeline, SMPP simulator)', () => {
  const f = carrierFixture()

  it('100 customers reach the carrier while a 50,000-message bulk flood is still draining', async () => {
    const whale = await fundedCustomer(f.db, { rateLimitMps: 1_000_000, name: 'whale' })
    await acceptMany(f.db, whale, 50_000, 'bulk')
    const small = new Set<string>()
    for (let i = 0; i < 100; i++) {
      const c = await fundedCustomer(f.db, { name: `small-${i}` })
      for (const id of await acceptMany(f.db, c, 1, 'bulk')) small.add(id)
    }
    f.pipeline = createPipeline({
      makeCarrier: createCarrier,
      db: f.db,
      bus: f.bus,
      carriers: [simSmppCarrier('sim', f.sim.smppPort, { window: 20 })],
      dispatcher: { window: 200 },
    })
    await f.pipeline.start()
    const submittedSmall = async () =>
      Number(
        (
          await f.db.query<{ n: string }>(
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
    const { rows } = await f.db.query<{ whale_before: string; whale_waiting: string }>(
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
    assert.deepEqual(f.sim.counters().duplicates, {})
  })
})

const FLOOD = 2000
const LANE_CONCURRENCY = 48

// Invariant 6 past the dispatcher: a flood already released to the bus (in the worker's lane,
// waiting for a handler and for the carrier's window) must not delay a message of another
// customer that comes after it. The dispatcher's fair share cannot help once the flood is out of
// the outbox; the worker's lane and the carrier gate serve customers round robin.
describe('fairness in the worker (PostgreSQL, pipeline, SMPP simulator)', () => {
  const f = carrierFixture()
  const count = f.count

  it("a small customer's message behind a whale's flood on the bus reaches the carrier within a bound", async () => {
    const whale = await fundedCustomer(f.db, { rateLimitMps: 1_000_000, name: 'whale' })
    const small = await fundedCustomer(f.db, { name: 'small' })
    await acceptMany(f.db, whale, FLOOD, 'bulk')
    await f.start({
      // The whole flood fits the dispatcher's window (the bulk lane's is 512 by default): it leaves
      // the outbox at once and waits in the worker's lane (48 batches in flight of up to 64 jobs each).
      dispatcher: { window: FLOOD, laneWindows: { bulk: FLOOD } },
      worker: { concurrency: { bulk: LANE_CONCURRENCY } },
    })
    await waitFor(
      async () =>
        (await count('SELECT count(*)::text AS n FROM outbox WHERE customer_id = $1', [whale])) === 0,
      'the flood released to the bus',
      60_000,
      10,
    )
    const [id] = await acceptMany(f.db, small, 1, 'bulk')
    const whaleAtAccept = await count(
      "SELECT count(*)::text AS n FROM deliveries WHERE customer_id = $1 AND state = 'submitted'",
      [whale],
    )
    await waitFor(
      async () =>
        (await count(
          "SELECT count(*)::text AS n FROM deliveries WHERE message_id = $1 AND state = 'submitted'",
          [id],
        )) === 1,
      "the small customer's message at the carrier",
      120_000,
      10,
    )
    // Order at the carrier: the flood's parts recorded no later than the small customer's one.
    const whaleBefore = await count(
      `SELECT count(*)::text AS n FROM carrier_refs WHERE customer_id = $1
          AND created_at <= (SELECT max(created_at) FROM carrier_refs WHERE message_id = $2)`,
      [whale, id],
    )
    assert.ok(
      whaleAtAccept < FLOOD / 2,
      `the flood had mostly drained (${whaleAtAccept}) before the test's message`,
    )
    // FIFO would send the rest of the flood first (thousands); round robin lets it in after the
    // jobs already in a handler or at the carrier's window, and those of one status group commit.
    const overtaken = whaleBefore - whaleAtAccept
    assert.ok(
      overtaken < LANE_CONCURRENCY * 8,
      `${overtaken} flood messages went to the carrier after the small customer's was accepted and before it`,
    )
    await waitFor(
      async () =>
        (await count("SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitted'", [])) ===
        FLOOD + 1,
      'the whole flood submitted',
      180_000,
      50,
    )
    assert.deepEqual(f.sim.counters().duplicates, {})
  })
})

const WHALE_FLOOD = 4000
const CAMPAIGN = 300
const BULK_WINDOW = 100

// Issue 12 (ADR 6 amendment of 2026-12-07): a small customer's campaign that starts while a whale
// has been flooding the same lane is released before the whale's next messages — the dispatcher
// fills the customers released least lately first — instead of sharing each pass's credits equally
// with it (then the campaign waits as long as the flood does, the sim's small customers' p95).
describe('fairness by recent use (PostgreSQL, pipeline, SMPP simulator)', () => {
  const f = carrierFixture()
  const count = f.count
  const submitted = (customer: string) =>
    count("SELECT count(*)::text AS n FROM deliveries WHERE customer_id = $1 AND state = 'submitted'", [
      customer,
    ])

  it("a small customer's campaign overtakes a flood that has been going on", async () => {
    const whale = await fundedCustomer(f.db, { rateLimitMps: 1_000_000, name: 'whale' })
    const small = await fundedCustomer(f.db, { rateLimitMps: 1_000_000, name: 'campaign' })
    await acceptMany(f.db, whale, WHALE_FLOOD, 'bulk')
    await f.start({ dispatcher: { window: BULK_WINDOW } })
    await waitFor(async () => (await submitted(whale)) >= 500, 'the flood under way', 60_000, 10)
    const ids = await acceptMany(f.db, small, CAMPAIGN, 'bulk')
    const whaleAtAccept = await submitted(whale)
    await waitFor(
      async () => (await submitted(small)) === CAMPAIGN,
      'the campaign at the carrier',
      120_000,
      10,
    )
    // Order at the carrier: the flood's parts recorded no later than the campaign's last one.
    const whaleBefore = await count(
      `SELECT count(*)::text AS n FROM carrier_refs WHERE customer_id = $1
          AND created_at <= (SELECT max(created_at) FROM carrier_refs WHERE message_id = ANY($2::uuid[]))`,
      [whale, ids],
    )
    assert.ok(whaleBefore < WHALE_FLOOD, 'the flood was still draining when the campaign was done')
    // An equal split per pass releases one whale message per campaign message (≥ CAMPAIGN more,
    // besides the window already out); by recent use only the window's jobs (and those a pass
    // released while the campaign's accept committed) go before it.
    const overtaken = whaleBefore - whaleAtAccept
    assert.ok(
      overtaken < BULK_WINDOW + CAMPAIGN / 2,
      `${overtaken} flood messages went to the carrier after the campaign was accepted and before its last`,
    )
    await waitFor(
      async () => (await submitted(whale)) === WHALE_FLOOD,
      'the whole flood submitted',
      180_000,
      50,
    )
    assert.deepEqual(f.sim.counters().duplicates, {})
  })
})
