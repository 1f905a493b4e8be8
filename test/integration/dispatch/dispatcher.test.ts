import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { acceptBatch } from '../../../src/billing/accept-batch.ts'
import { batchItems } from '../../../src/bus/batch.ts'
import type { Bus, Consumer } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { laneDurable, laneSubject } from '../../../src/bus/subjects.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createDispatcher } from '../../../src/dispatch/dispatcher.ts'
import type { DeliveryJob, Priority } from '../../../src/domain/message.ts'
import { acceptMany, acceptRequest, fundedCustomer, renderStub } from '../../helpers/messages.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

/** Records what a lane's workers would receive, in order, acking each. */
async function record(bus: Bus, lane: Priority, seen: DeliveryJob[]): Promise<Consumer> {
  return bus.consume<unknown>({
    durable: laneDurable(lane),
    subject: laneSubject(lane),
    concurrency: 1,
    handler: async (m) => {
      seen.push(...(batchItems(m.data) as DeliveryJob[]))
      await m.ack()
    },
  })
}

function dispatcherSuite(name: string, makeBus: () => Promise<Bus>) {
  describe(`dispatcher over ${name}`, () => {
    let pg: FreshDatabase
    let db: Db
    before(async () => {
      pg = await freshDatabase()
      db = createPostgresDb({ url: pg.url, poolSize: 6 })
    })
    after(async () => {
      await db?.close()
      await pg?.drop()
    })

    it('a 50,000-message bulk flood does not delay 100 other customers', async () => {
      const bus = await makeBus()
      const whale = await fundedCustomer(db, { rateLimitMps: 1_000_000, name: 'whale' })
      await acceptMany(db, whale, 50_000, 'bulk')
      const small: string[] = []
      for (let i = 0; i < 100; i++) {
        const c = await fundedCustomer(db, { name: `small-${i}` })
        small.push(...(await acceptMany(db, c, 1, 'bulk')))
      }
      const seen: DeliveryJob[] = []
      const consumer = await record(bus, 'bulk', seen)
      const dispatcher = createDispatcher({ db, bus, window: 200, maxPerPass: 200 })
      try {
        const want = new Set(small)
        dispatcher.start()
        await waitFor(
          () => seen.filter((j) => want.has(j.id)).length === 100,
          'the 100 small customers',
          60_000,
        )
        const lastSmall = Math.max(...seen.map((j, i) => (want.has(j.id) ? i : -1)))
        const whaleBefore = seen.slice(0, lastSmall).filter((j) => j.customer_id === whale).length
        // Fair share: all 100 are released in the first passes, while ~49,800 whale messages still wait.
        assert.ok(lastSmall < 400, `last small customer was message #${lastSmall}`)
        assert.ok(whaleBefore < 300, `${whaleBefore} whale messages went first`)
        const { rows } = await db.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM outbox WHERE customer_id = $1',
          [whale],
        )
        assert.ok(Number(rows[0]?.n) > 40_000, 'the flood is still draining in PostgreSQL')
      } finally {
        await dispatcher.stop()
        await consumer.stop()
        await bus.close()
      }
    })

    it('otp overtakes a bulk backlog of the same customer', async () => {
      const bus = await makeBus()
      const c = await fundedCustomer(db, { rateLimitMps: 1_000_000 })
      await acceptMany(db, c, 5000, 'bulk')
      const bulk: DeliveryJob[] = []
      const otp: DeliveryJob[] = []
      const consumers = [await record(bus, 'bulk', bulk), await record(bus, 'otp', otp)]
      const dispatcher = createDispatcher({ db, bus, window: 100, maxPerPass: 100 })
      try {
        dispatcher.start()
        await waitFor(() => bulk.length > 0, 'bulk flowing', 60_000)
        const [code] = await acceptMany(db, c, 1, 'otp')
        await waitFor(() => otp.length === 1, 'the otp message', 60_000)
        assert.equal(otp[0]?.id, code)
        assert.ok(bulk.length < 4000, `otp waited for ${bulk.length} bulk messages`)
      } finally {
        await dispatcher.stop()
        for (const k of consumers) await k.stop()
        await bus.close()
      }
    })

    it('never skips a row whose transaction commits late (out-of-order commits)', async () => {
      const bus = await makeBus()
      const c = await fundedCustomer(db)
      const seen: DeliveryJob[] = []
      const consumer = await record(bus, 'normal', seen)
      const dispatcher = createDispatcher({ db, bus })
      const early = acceptRequest(c)
      const late = acceptRequest(c)
      try {
        let release!: () => void
        const held = new Promise<void>((r) => {
          release = r
        })
        // The first transaction takes the lower outbox seq but commits after the second.
        let inserted!: () => void
        const didInsert = new Promise<void>((r) => {
          inserted = r
        })
        const slow = db.transaction(async (tx) => {
          await acceptBatch(tx, [early], renderStub)
          inserted()
          await held
        })
        await didInsert
        const other = await fundedCustomer(db)
        const fast = acceptRequest(other)
        await db.transaction((tx) => acceptBatch(tx, [fast], renderStub))
        await dispatcher.pass()
        await waitFor(() => seen.some((j) => j.id === fast.message.id), 'the committed message', 60_000)
        release()
        await slow
        await db.transaction((tx) => acceptBatch(tx, [late], renderStub))
        await dispatcher.pass()
        await waitFor(() => seen.length === 3, 'all three messages', 10_000)
        assert.deepEqual(
          new Set(seen.map((j) => j.id)),
          new Set([early.message.id, fast.message.id, late.message.id]),
        )
      } finally {
        await consumer.stop()
        await bus.close()
      }
    })

    it('two dispatchers release every message exactly once', async () => {
      const bus = await makeBus()
      const customers = await Promise.all(Array.from({ length: 20 }, () => fundedCustomer(db)))
      const ids = new Set<string>()
      for (const c of customers) for (const id of await acceptMany(db, c, 100, 'high')) ids.add(id)
      const seen: DeliveryJob[] = []
      const consumer = await record(bus, 'high', seen)
      const other = createPostgresDb({ url: pg.url, poolSize: 4 })
      const d1 = createDispatcher({ db, bus, window: 300, maxPerPass: 150 })
      const d2 = createDispatcher({ db: other, bus, window: 300, maxPerPass: 150 })
      try {
        d1.start()
        d2.start()
        await waitFor(() => seen.length >= ids.size, 'every message', 60_000)
        await d1.stop()
        await d2.stop()
        const counts = new Map<string, number>()
        for (const j of seen) counts.set(j.id, (counts.get(j.id) ?? 0) + 1)
        assert.equal(counts.size, ids.size)
        assert.ok(
          [...counts.values()].every((n) => n === 1),
          'a message was released twice',
        )
      } finally {
        await d1.stop()
        await d2.stop()
        await consumer.stop()
        await other.close()
        await bus.close()
      }
    })
  })
}

dispatcherSuite('the in-process bus', async () => createMemoryBus())
dispatcherSuite('NATS JetStream', async () => {
  const stream = `T_${randomBytes(4).toString('hex')}`
  const bus = await createNatsBus({
    servers: NATS_URL,
    stream,
    subjectPrefix: `t${randomBytes(4).toString('hex')}`,
  })
  // Each test closes its bus; the stream goes with it.
  return {
    ...bus,
    close: async () => {
      await bus.close()
      await deleteStream(stream)
    },
  }
})
