// Contract: every committed status change is published once as a status event, on both buses
// (in-process and NATS JetStream), over the real PostgreSQL — including a change whose
// transaction commits after later ones, and a relay that fails after publishing.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import type { Bus, Consumer } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { STATUS_EVENTS } from '../../../src/bus/subjects.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createStatusEventRelay } from '../../../src/events/relay.ts'
import { type StatusEvent, statusEventsOf } from '../../../src/events/status-events.ts'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

interface BusUnderTest {
  bus: Bus
  cleanup(): Promise<void>
}

const buses: Record<string, () => Promise<BusUnderTest>> = {
  memory: async () => {
    const bus = createMemoryBus()
    return { bus, cleanup: () => bus.close() }
  },
  nats: async () => {
    const id = randomBytes(5).toString('hex')
    const stream = `TEST_EVT_${id}`
    const bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: `evt_${id}` })
    return {
      bus,
      async cleanup() {
        await bus.close()
        await deleteStream(stream)
      },
    }
  },
}

for (const [name, makeBus] of Object.entries(buses)) {
  describe(`status events contract: ${name} bus`, () => {
    let database: FreshDatabase
    let db: Db
    let b: BusUnderTest
    let consumer: Consumer
    const got: StatusEvent[] = []
    const subjects: string[] = []
    /** Events per bus message. */
    const messages: number[] = []

    before(async () => {
      database = await freshDatabase()
      db = createPostgresDb({ url: database.url, poolSize: 4 })
      b = await makeBus()
      consumer = await b.bus.consume<unknown>({
        durable: 'test-status',
        subject: STATUS_EVENTS,
        handler: async (m) => {
          const events = statusEventsOf(m.data) as StatusEvent[]
          got.push(...events)
          subjects.push(...events.map(() => m.subject))
          messages.push(events.length)
          await m.ack()
        },
      })
    })
    after(async () => {
      await consumer?.stop()
      await b?.cleanup()
      await db?.close()
      await database?.drop()
    })

    const eventRows = async () =>
      (
        await db.query<{ id: string; message_id: string; status: string }>(
          'SELECT id::text, message_id, status FROM message_events ORDER BY id',
        )
      ).rows

    it('publishes each committed change once, batched per customer on sms.status.<customer>.batch, in order per message', async () => {
      const customer = await fundedCustomer(db)
      const ids = await acceptMany(db, customer, 50)
      const { rows } = await db.query<{ id: string; created_at: Date }>('SELECT id, created_at FROM messages')
      const writer = createStatusWriter(db)
      for (const status of ['sending', 'sent', 'delivered'] as const)
        await Promise.all(
          rows.map((m) => writer.write({ messageId: m.id, createdAt: m.created_at.toISOString(), status })),
        )
      // A backward move is no change: no event.
      await writer.write({
        messageId: ids[0] as string,
        createdAt: rows[0]?.created_at.toISOString() as string,
        status: 'sent',
      })
      const relay = createStatusEventRelay({ db, bus: b.bus, batch: 37 })
      // A pass may publish nothing while a write transaction elsewhere on the server is open (the
      // snapshot's xmin is cluster-wide), so passes repeat until everything arrived.
      await waitFor(
        async () => (await relay.pass()) === 0 && got.length >= 150,
        'every event consumed',
        10_000,
      )
      const stored = await eventRows()
      assert.equal(stored.length, 150)
      // Passes with nothing new publish nothing.
      assert.equal(await relay.pass(), 0)
      assert.deepEqual(
        got.map((e) => e.id).sort(),
        stored.map((r) => r.id).sort(),
        'each stored event published exactly once',
      )
      for (const [i, e] of got.entries()) {
        assert.equal(e.customer_id, customer)
        assert.equal(e.type, `message.${e.status}`)
        assert.ok(subjects[i]?.endsWith(`status.${customer}.batch`), subjects[i])
      }
      // One customer: a pass's events (at most 37 here) travel as one bus message.
      assert.ok(messages.length <= 150 / 37 + 4, `150 events in ${messages.length} bus messages`)
      assert.ok(
        messages.every((n) => n <= 37),
        `events per message: ${messages}`,
      )
      const order = new Map<string, string[]>()
      for (const e of got) order.set(e.message_id, [...(order.get(e.message_id) ?? []), e.status])
      for (const seq of order.values()) assert.deepEqual(seq, ['sending', 'sent', 'delivered'])
    })

    it('never skips a change whose transaction commits after later ones', async () => {
      got.length = 0
      const customer = await fundedCustomer(db)
      const [early, later] = await acceptMany(db, customer, 2)
      const created = async (id: string) =>
        (await db.query<{ created_at: Date }>('SELECT created_at FROM messages WHERE id = $1', [id])).rows[0]
          ?.created_at as Date
      // The early change takes its transaction id first, then stays uncommitted.
      const slow = new pg.Client({ connectionString: database.url })
      await slow.connect()
      try {
        await slow.query('BEGIN')
        await slow.query(
          `INSERT INTO message_events (message_id, customer_id, status, created_at) VALUES ($1, $2, 'sending', now())`,
          [early, customer],
        )
        const writer = createStatusWriter(db)
        await writer.write({
          messageId: later as string,
          createdAt: (await created(later as string)).toISOString(),
          status: 'sending',
        })
        const relay = createStatusEventRelay({ db, bus: b.bus })
        // The later change is committed, but publishing it now would move the position past the early one.
        assert.equal(await relay.pass(), 0)
        await slow.query('COMMIT')
        let published = 0
        await waitFor(
          async () => {
            published += await relay.pass()
            return published >= 2
          },
          'both events published',
          10_000,
        )
        assert.equal(published, 2)
      } finally {
        await slow.end()
      }
      await waitFor(() => got.length >= 2, 'both events consumed', 10_000)
      assert.deepEqual(
        got.map((e) => e.message_id),
        [early, later],
      )
    })

    it('a relay that fails after publishing republishes the same events, stored once by the bus', async () => {
      got.length = 0
      const customer = await fundedCustomer(db)
      const [id] = await acceptMany(db, customer, 1)
      const { rows } = await db.query<{ created_at: Date }>('SELECT created_at FROM messages WHERE id = $1', [
        id,
      ])
      await createStatusWriter(db).write({
        messageId: id as string,
        createdAt: rows[0]?.created_at.toISOString() as string,
        status: 'sending',
      })
      // Published, then the process "dies" before saving its position: the transaction rolls back.
      const failing = createStatusEventRelay({
        db,
        bus: b.bus,
        onPublished: () => {
          throw new Error('killed after publishing')
        },
      })
      await waitFor(
        () =>
          failing.pass().then(
            () => false,
            (err: Error) => /killed after publishing/.test(err.message),
          ),
        'the failing relay to publish',
        10_000,
      )
      const relay = createStatusEventRelay({ db, bus: b.bus })
      await waitFor(async () => (await relay.pass()) === 1, 'the event published again', 10_000)
      await waitFor(() => got.length >= 1, 'the event consumed', 10_000)
      // Nothing is left to publish: the position moved past the event.
      assert.equal(await relay.pass(), 0)
      await waitFor(async () => (await b.bus.pending('test-status')) === 0, 'the consumer settled', 10_000)
      assert.equal(got.length, 1, 'stored once')
    })
  })
}

// Issue 12: the relay's read was planned afresh on every pass, over every partition of both event
// tables (~2 ms of PostgreSQL CPU a pass). It now runs on one generic plan per connection.
describe('status event relay: one plan per connection', () => {
  let database: FreshDatabase
  let db: Db
  before(async () => {
    database = await freshDatabase()
    // One connection, so the relay's prepared statement is the one this test looks at.
    db = createPostgresDb({ url: database.url, poolSize: 1 })
  })
  after(async () => {
    await db?.close()
    await database?.drop()
  })

  it('publishes every event in order over passes that reuse one generic plan', async () => {
    const bus = createMemoryBus()
    const got: string[] = []
    const consumer = await bus.consume<unknown>({
      durable: 'plan-test',
      subject: STATUS_EVENTS,
      handler: async (m) => {
        got.push(...(statusEventsOf(m.data) as StatusEvent[]).map((e) => e.message_id))
        await m.ack()
      },
    })
    const customer = await fundedCustomer(db)
    const ids = await acceptMany(db, customer, 30)
    const { rows } = await db.query<{ id: string; created_at: Date }>(
      'SELECT id, created_at FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id',
      [ids],
    )
    const writer = createStatusWriter(db)
    const relay = createStatusEventRelay({ db, bus, batch: 7 })
    // Three rounds of ten changes, each relayed in passes of at most 7 events. A pass may find
    // less than is written (another database's open transaction holds the cluster's xmin back).
    let passes = 0
    const pass = () => {
      passes++
      return relay.pass()
    }
    for (let round = 0; round < 3; round++) {
      for (const r of rows.slice(round * 10, round * 10 + 10))
        await writer.write({ messageId: r.id, createdAt: r.created_at.toISOString(), status: 'sending' })
      while ((await pass()) > 0) {}
    }
    await waitFor(async () => (await pass()) >= 0 && got.length === 30, 'all 30 events consumed', 10_000)
    assert.deepEqual(
      got,
      rows.map((r) => r.id),
    )
    const { rows: plans } = await db.query<{ generic_plans: string; custom_plans: string }>(
      `SELECT generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE name = 'relay_status_events_7'`,
    )
    assert.ok(passes >= 8, `${passes} passes`)
    assert.deepEqual(plans, [{ generic_plans: String(passes), custom_plans: '0' }])
    await consumer.stop()
    await bus.close()
  })
})
