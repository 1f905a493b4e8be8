// The stream hub over real PostgreSQL, on both buses: events published while a resumed stream
// replays are sent once and in order (read by the replay and held from the bus, or held only),
// a full hold is re-read from the database, bus repeats are dropped, a slow client is closed
// without holding up the others, and subscriptions are per customer, not per stream.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Bus, Subscription } from '../../../src/bus/bus.ts'
import { statusSubject } from '../../../src/bus/subjects.ts'
import type { Db, Queryable } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import type { MessageStatus } from '../../../src/domain/status.ts'
import { parseEventId, statusEventId } from '../../../src/events/event-ids.ts'
import { resumePoint, streamAfter } from '../../../src/events/event-replay.ts'
import type { EventEnvelope } from '../../../src/events/events-repository.ts'
import { createStatusEventRelay } from '../../../src/events/relay.ts'
import type { StatusEvent } from '../../../src/events/status-events.ts'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import { createStreamHub, type StreamClient, type StreamHub } from '../../../src/events/stream-hub.ts'
import { type BusUnderTest, busesUnderTest, relayUntil } from '../../helpers/buses.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

/** Deadlines of the waits: generous, the machine is shared (not a performance bound). */
const DEADLINE = 20_000

/** A client that keeps what it is sent; `accept` says when it has fallen behind. */
function fakeClient(accept: (n: number) => boolean = () => true) {
  const got: EventEnvelope[] = []
  const state = { got, closed: undefined as string | undefined }
  const client: StreamClient = {
    send(e) {
      got.push(e)
      return accept(got.length)
    },
    drained: async () => {},
    heartbeat() {},
    close(reason) {
      state.closed = reason
    },
  }
  return { ...state, state, client }
}

const REPLAY_SQL = 's ORDER BY x, src, i'

/** A Db whose replay reads can be held before they run or before they return. */
function gatedDb(db: Db) {
  let hold: { when: 'before' | 'after'; reached: () => void; release: Promise<void> } | undefined
  const gated: Db = {
    ...db,
    query: async (sql: string, params?: unknown[], opts?: Parameters<Queryable['query']>[2]) => {
      const h = sql.includes(REPLAY_SQL) ? hold : undefined
      if (h) hold = undefined
      if (h?.when === 'before') {
        h.reached()
        await h.release
      }
      const res = await db.query(sql, params, opts)
      if (h?.when === 'after') {
        h.reached()
        await h.release
      }
      return res
    },
  } as Db
  return {
    db: gated,
    /** Holds the next replay read; resolves `reached` when it is held, runs on `release()`. */
    arm(when: 'before' | 'after') {
      let release!: () => void
      let reached!: () => void
      const r = new Promise<void>((ok) => {
        reached = ok
      })
      hold = { when, reached, release: new Promise<void>((ok) => (release = ok)) }
      return { reached: r, release: () => release() }
    },
  }
}

/** Counts live subscriptions the hub holds open. */
function countingBus(bus: Bus) {
  const open = new Set<Subscription>()
  const wrapped: Bus = {
    ...bus,
    subscribe: async (subject, handler) => {
      const sub = await bus.subscribe(subject, handler)
      const tracked: Subscription = {
        async stop() {
          open.delete(tracked)
          await sub.stop()
        },
      }
      open.add(tracked)
      return tracked
    },
  }
  return { bus: wrapped, open }
}

for (const [name, makeBus] of Object.entries(busesUnderTest)) {
  describe(`stream hub: ${name} bus`, () => {
    let pg: FreshDatabase
    let db: Db
    let b: BusUnderTest
    let customer: string
    let other: string
    let messages: string[]
    let publish: (events: number) => Promise<void>
    const write = () => createStatusWriter(db).write

    before(async () => {
      pg = await freshDatabase()
      db = createPostgresDb({ url: pg.url, poolSize: 6 })
      b = await makeBus()
      customer = await fundedCustomer(db, { name: 'hub' })
      other = await fundedCustomer(db, { name: 'other' })
      messages = await acceptMany(db, customer, 3)
      const relay = createStatusEventRelay({ db, bus: b.bus })
      publish = relayUntil(relay, DEADLINE)
      // A first message dispatched: the stream has events to resume from.
      await advance(await acceptMany(db, customer, 1), 'sending')
    })
    after(async () => {
      await db?.close()
      await b?.cleanup()
      await pg?.drop()
    })

    const advance = async (ids: string[], status: MessageStatus) => {
      for (const id of ids) {
        const { rows } = await db.query<{ created_at: Date }>(
          'SELECT created_at FROM messages WHERE id = $1',
          [id],
        )
        await write()({
          messageId: id,
          createdAt: (rows[0] as { created_at: Date }).created_at.toISOString(),
          status,
        })
      }
      await publish(ids.length)
    }
    /** Every event of the customer in the stream's order. */
    const inStreamOrder = async () =>
      (
        await streamAfter(db, customer, { since: new Date(Date.now() - 3600_000), after: null }, 1000)
      ).events.map(({ stream: _, ...e }) => e)
    const oldestFirst = inStreamOrder
    const from = async () => {
      const first = (await oldestFirst())[0] as EventEnvelope
      const point = await resumePoint(db, customer, first.id)
      assert.ok(point.ok)
      return point.cursor
    }
    const withHub = async (
      opts: { db?: Db; bus?: Bus; maxBuffered?: number; replayPage?: number },
      fn: (hub: StreamHub) => Promise<void>,
    ) => {
      const hub = createStreamHub({ db: opts.db ?? db, bus: opts.bus ?? b.bus, replayPage: 2, ...opts })
      try {
        await fn(hub)
      } finally {
        await hub.close()
      }
    }

    it('events published while the replay reads are sent once, in order', async () => {
      const g = gatedDb(db)
      await withHub({ db: g.db }, async (hub) => {
        const start = await from()
        const held = g.arm('before')
        const c = fakeClient()
        const opened = hub.open({ customerId: customer, types: null, after: start, client: c.client })
        await held.reached
        // Committed before the replay reads, and on the bus: read by the replay and held from the bus.
        await advance(messages, 'sent')
        await waitFor(
          () => hub.stats().buffered === 6,
          'six live events held (three with their queued)',
          DEADLINE,
        )
        held.release()
        await opened
        const all = await oldestFirst()
        assert.deepEqual(c.got, all.slice(1))
      })
    })

    it('events committed after the replay read come from the hold, after the replay', async () => {
      const g = gatedDb(db)
      // One replay read: what is committed after it can only come from the hold.
      await withHub({ db: g.db, replayPage: 1000 }, async (hub) => {
        const start = await from()
        const before = await oldestFirst()
        const held = g.arm('after')
        const c = fakeClient()
        const opened = hub.open({ customerId: customer, types: null, after: start, client: c.client })
        await held.reached
        await advance(messages, 'delivered')
        await waitFor(() => hub.stats().buffered === 3, 'three live events held', DEADLINE)
        held.release()
        await opened
        const all = await oldestFirst()
        assert.equal(all.length, before.length + 3)
        assert.deepEqual(c.got, all.slice(1))
      })
    })

    it('a hold that overflows is dropped and the replay reads again from the database', async () => {
      const g = gatedDb(db)
      const more = await acceptMany(db, customer, 4)
      // One replay read: the dropped events can only come back by reading again.
      await withHub({ db: g.db, maxBuffered: 5, replayPage: 1000 }, async (hub) => {
        const start = await from()
        const held = g.arm('after')
        const c = fakeClient()
        const opened = hub.open({ customerId: customer, types: null, after: start, client: c.client })
        await held.reached
        await advance(more, 'sent')
        // Eight events (four with their queued) for a hold of five: it overflowed (and holds what came after).
        await waitFor(
          () => hub.stats().overflows === 1 && hub.stats().buffered === 2,
          'the hold overflowed once',
          DEADLINE,
        )
        held.release()
        await opened
        const all = await oldestFirst()
        await waitFor(() => c.got.length >= all.length - 1, 'all events', DEADLINE)
        assert.deepEqual(c.got, all.slice(1))
      })
    })

    it('a repeated bus copy is sent once; other customers are not heard', async () => {
      await withHub({}, async (hub) => {
        const c = fakeClient()
        await hub.open({ customerId: customer, types: null, client: c.client })
        const fresh = await acceptMany(db, customer, 2)
        await advance(fresh.slice(0, 1), 'sent')
        await waitFor(() => c.got.length === 2, 'the first message queued and sent', DEADLINE)
        const copy = (
          await db.query<{ id: string; created_at: Date; message_id: string }>(
            `SELECT id::text, created_at, message_id FROM message_events WHERE message_id = $1`,
            [fresh[0]],
          )
        ).rows[0]
        assert.ok(copy)
        const again: StatusEvent = {
          id: copy.id,
          type: 'message.sent',
          message_id: copy.message_id,
          customer_id: customer,
          status: 'sent',
          detail: null,
          created_at: copy.created_at.toISOString(),
        }
        await b.bus.publish(statusSubject(customer, 'sent'), again)
        const theirs = await acceptMany(db, other, 1)
        await advance(theirs, 'sent')
        await advance(fresh.slice(1), 'sent')
        await waitFor(() => c.got.some((e) => e.data.id === fresh[1]), 'the next event', DEADLINE)
        assert.deepEqual(
          c.got.map((e) => `${e.type} ${e.data.id}`),
          fresh.flatMap((id) => [`message.queued ${id}`, `message.sent ${id}`]),
          'the repeat and the other customer event were not sent',
        )
      })
    })

    it('a client that cannot keep up is closed; the others go on', async () => {
      await withHub({}, async (hub) => {
        const slow = fakeClient((n) => n < 2)
        const fine = fakeClient()
        await hub.open({ customerId: customer, types: null, client: slow.client })
        await hub.open({ customerId: customer, types: null, client: fine.client })
        const fresh = await acceptMany(db, customer, 3)
        await advance(fresh, 'sent')
        await waitFor(() => fine.got.length === 6, 'the fine client got all three, queued and sent', DEADLINE)
        assert.equal(slow.state.closed, 'slow')
        assert.equal(slow.got.length, 2)
        assert.equal(hub.stats().streams, 1)
      })
    })

    it('resume points: the stream position of own events, the carried time for anything else', async () => {
      await advance(await acceptMany(db, customer, 2), 'sent')
      const streamed = (
        await streamAfter(db, customer, { since: new Date(Date.now() - 3600_000), after: null }, 1000)
      ).events
      assert.ok(streamed.some((e) => e.type === 'message.queued'))
      for (const e of streamed) {
        const point = await resumePoint(db, customer, e.id)
        assert.ok(point.ok)
        assert.deepEqual(point.cursor.after, e.stream, e.type)
      }
      // Another customer's id tells nothing: it is read as an id of no event at that time.
      const status = streamed.find((e) => e.type === 'message.sent') as (typeof streamed)[number]
      const ref = parseEventId(status.id)
      assert.ok(ref?.kind === 'status')
      const carried = { ok: true, cursor: { since: new Date(ref.at), after: null } }
      assert.deepEqual(await resumePoint(db, other, status.id), carried)
      assert.deepEqual(await resumePoint(db, customer, statusEventId('999999999', ref.at)), carried)
    })

    it('holds one subscription per customer with open streams, released with the last', async () => {
      const counted = countingBus(b.bus)
      await withHub({ bus: counted.bus }, async (hub) => {
        const streams = await Promise.all(
          [customer, customer, customer, other].map((id) =>
            hub.open({ customerId: id, types: null, client: fakeClient().client }),
          ),
        )
        // Two per customer (status changes, customer events); message.queued comes with the first status change.
        assert.equal(counted.open.size, 4)
        assert.deepEqual(hub.stats(), { streams: 4, customers: 2, buffered: 0, overflows: 0 })
        for (const s of streams) s.close()
        await waitFor(() => counted.open.size === 0, 'subscriptions released', DEADLINE)
        assert.deepEqual(hub.stats(), { streams: 0, customers: 0, buffered: 0, overflows: 0 })
      })
    })
  })
}
