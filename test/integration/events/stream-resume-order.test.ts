// Resuming the live stream never skips an event that became visible after the one resumed from,
// whatever their ids say (issue 10, "Last-Event-ID resume"). Two orders differ from the ids':
// a status writer that stamped its rows later but began writing first (the relay publishes its
// rows first: lower transaction id), and message.queued, whose id carries the accept time but
// which is streamed when the message is dispatched. A live stream sees a sequence; a stream
// resumed from any event of it must receive exactly the rest of that sequence, in order. Events
// recorded in customer_events (endpoint.disabled) are relayed live in the same order.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { uuidV7Time } from '../../../src/domain/ids.ts'
import { resumePoint } from '../../../src/events/event-replay.ts'
import type { EventEnvelope } from '../../../src/events/events-repository.ts'
import { createStatusEventRelay } from '../../../src/events/relay.ts'
import { createStreamHub, type StreamClient } from '../../../src/events/stream-hub.ts'
import { type BusUnderTest, busesUnderTest, relayUntil } from '../../helpers/buses.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

const DEADLINE = 20_000

function collector() {
  const got: EventEnvelope[] = []
  const client: StreamClient = {
    send(e) {
      got.push(e)
      return true
    },
    drained: async () => {},
    heartbeat() {},
    close() {},
  }
  return { got, client }
}

for (const [name, makeBus] of Object.entries(busesUnderTest)) {
  describe(`stream resume follows visibility, not ids: ${name} bus`, () => {
    let pg: FreshDatabase
    let db: Db
    let b: BusUnderTest
    let customer: string
    let publish: (events: number) => Promise<void>

    before(async () => {
      pg = await freshDatabase()
      db = createPostgresDb({ url: pg.url, poolSize: 6 })
      b = await makeBus()
      customer = await fundedCustomer(db, { name: 'order' })
      publish = relayUntil(createStatusEventRelay({ db, bus: b.bus }), DEADLINE)
    })
    after(async () => {
      await db?.close()
      await b?.cleanup()
      await pg?.drop()
    })

    /** A status row written as a status writer does, stamped `at`. */
    const statusRow = (q: Pick<Db, 'query'>, messageId: string, status: string, at: Date) =>
      q.query(
        'INSERT INTO message_events (message_id, customer_id, status, created_at) VALUES ($1, $2, $3, $4)',
        [messageId, customer, status, at.toISOString()],
      )

    it('a reconnect from any event streamed live receives exactly the rest, in the same order', async () => {
      const hub = createStreamHub({ db, bus: b.bus, replayPage: 2, onError: (e) => console.error(e) })
      try {
        // Accepted first: its message.queued id is older than every status event below.
        const [early] = await acceptMany(db, customer, 1)
        const [m1, m2, m3] = await acceptMany(db, customer, 3)
        assert.ok(early && m1 && m2 && m3)
        const live = collector()
        await hub.open({ customerId: customer, types: null, client: live.client })

        // m1 and m3 first: two events streamed before anything else.
        const t0 = Date.now()
        await statusRow(db, m1, 'sending', new Date(t0))
        await statusRow(db, m3, 'sending', new Date(t0 + 1))
        await publish(2)
        // Writer A starts first (lower transaction id) but stamps later; writer B stamps earlier
        // and commits first. The relay publishes A's row first: the stream sends A then B, while
        // B's id (its time) sorts before A's.
        let releaseA!: () => void
        const aHolds = new Promise<void>((ok) => (releaseA = ok))
        let aWrote!: () => void
        const aWroteP = new Promise<void>((ok) => (aWrote = ok))
        const writerA = db.transaction(async (tx) => {
          await statusRow(tx, m1, 'sent', new Date(t0 + 2000))
          aWrote()
          await aHolds
        })
        await aWroteP
        await statusRow(db, m2, 'sending', new Date(t0 + 1000))
        releaseA()
        await writerA
        // An event recorded in customer_events (as when an endpoint is disabled): on the bus too, in order.
        await db.query(
          `INSERT INTO customer_events (customer_id, type, data) VALUES ($1, 'endpoint.disabled', '{"id":"ep_x"}')`,
          [customer],
        )
        // The early message is dispatched last: its message.queued comes now, after events with later ids.
        await statusRow(db, early, 'sending', new Date(t0 + 3000))
        await publish(4)
        await waitFor(() => live.got.length === 10, 'ten live events', DEADLINE).catch((err) => {
          console.error(
            'GOT',
            live.got.map((e) => `${e.type}:${e.data.id}`),
          )
          throw err
        })

        const types = live.got.map((e) => `${e.type}:${e.data.id}`)
        assert.deepEqual(types, [
          `message.queued:${m1}`,
          `message.sending:${m1}`,
          `message.queued:${m3}`,
          `message.sending:${m3}`,
          `message.sent:${m1}`,
          `message.queued:${m2}`,
          `message.sending:${m2}`,
          'endpoint.disabled:ep_x',
          `message.queued:${early}`,
          `message.sending:${early}`,
        ])
        // The orders the ids give are not the stream's: what the old resume relied on.
        const sentM1 = live.got[4] as EventEnvelope
        const sendingM2 = live.got[6] as EventEnvelope
        assert.ok(Date.parse(sendingM2.created_at) < Date.parse(sentM1.created_at))
        const queuedEarly = live.got[8] as EventEnvelope
        assert.ok((uuidV7Time(early) as number) < Date.parse(sentM1.created_at))

        // From every event streamed, a reconnect gets exactly the rest, once each, in order.
        for (const [i, e] of live.got.entries()) {
          const point = await resumePoint(db, customer, e.id)
          assert.ok(point.ok)
          const resumed = collector()
          const s = await hub.open({
            customerId: customer,
            types: null,
            after: point.cursor,
            client: resumed.client,
          })
          s.close()
          assert.deepEqual(
            resumed.got.map((x) => x.id),
            live.got.slice(i + 1).map((x) => x.id),
            `resumed after #${i} (${e.type} of ${e.data.id})`,
          )
        }
        assert.equal(queuedEarly.type, 'message.queued')
      } finally {
        await hub.close()
      }
    })
  })
}
