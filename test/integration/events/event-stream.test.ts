// GET /v1/events/stream over real PostgreSQL, on both buses (in-process and NATS JetStream), through
// a listening server: SSE resume with Last-Event-ID gives exactly the rest in the stream's order
// (the order events became visible; message.queued with its message's first status change), another
// customer's stream sees none of it, the types filter, heartbeats, the WebSocket carries the same
// envelopes, and refusals happen before streaming. Events come from the real relay (status
// changes) and jobs published as the dispatcher does (message.queued).

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { acceptBatch } from '../../../src/billing/accept-batch.ts'
import { laneSubject } from '../../../src/bus/subjects.ts'
import type { DeliveryJob } from '../../../src/domain/message.ts'
import type { MessageStatus } from '../../../src/domain/status.ts'
import { queuedEventId, statusEventId } from '../../../src/events/event-ids.ts'
import { streamAfter } from '../../../src/events/event-replay.ts'
import { createStatusEventRelay } from '../../../src/events/relay.ts'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import {
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../../helpers/app.ts'
import { type BusUnderTest, busesUnderTest, relayUntil } from '../../helpers/buses.ts'
import { acceptRequest, renderStub } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { openSse, openWs, type StreamedEvent } from '../../helpers/stream-client.ts'
import { waitFor } from '../../helpers/wait.ts'

/** Deadlines of the waits: generous, the machine is shared (not a performance bound). */
const DEADLINE = 20_000

const STREAM = '/v1/events/stream'
const HEARTBEAT_MS = 40

for (const [name, makeBus] of Object.entries(busesUnderTest)) {
  describe(`live event stream: ${name} bus`, () => {
    let pg: FreshDatabase
    let b: BusUnderTest
    let t: TestApp
    let base: string
    let a: TestCustomer
    let c: TestCustomer
    let publish: (events: number) => Promise<void>
    let write: ReturnType<typeof createStatusWriter>['write']

    before(async () => {
      pg = await freshDatabase()
      b = await makeBus()
      t = await startApp(pg.url, {
        env: { SMSGW_STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS) },
        deps: { bus: b.bus },
      })
      base = await t.app.listen({ host: '127.0.0.1', port: 0 })
      await setRates(t.app)
      a = await createCustomer(t.app, { name: 'a', credit: '10.00' })
      c = await createCustomer(t.app, { name: 'c', credit: '10.00' })
      const relay = createStatusEventRelay({ db: t.db, bus: b.bus })
      publish = relayUntil(relay, DEADLINE)
      write = createStatusWriter(t.db).write
    })
    after(async () => {
      await t?.close()
      await b?.cleanup()
      await pg?.drop()
    })

    /** Accepts n messages and publishes their jobs as the dispatcher would (their message.queued). */
    const send = async (who: TestCustomer, n: number) => {
      const ids: string[] = []
      for (let i = 0; i < n; i++) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: who.auth,
          payload: sendBody(),
        })
        assert.equal(res.statusCode, 202, res.body)
        ids.push((res.json() as { id: string }).id)
      }
      const { rows } = await t.db.query<DeliveryJob & { created_at: Date }>(
        'SELECT id, created_at, customer_id FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id',
        [ids],
      )
      for (const r of rows) {
        await b.bus.publish(
          laneSubject('normal'),
          { ...r, created_at: r.created_at.toISOString() },
          { msgId: r.id },
        )
      }
      return ids
    }

    /** Records a status change of each message and publishes it through the relay. */
    const advance = async (ids: string[], status: MessageStatus) => {
      for (const id of ids) {
        const { rows } = await t.db.query<{ created_at: Date }>(
          'SELECT created_at FROM messages WHERE id = $1',
          [id],
        )
        await write({
          messageId: id,
          createdAt: (rows[0] as { created_at: Date }).created_at.toISOString(),
          status,
        })
      }
      await publish(ids.length)
    }

    /** The customer's events as GET /v1/events lists them, oldest first. */
    const listed = async (who: TestCustomer, type?: string) => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/events?limit=1000${type ? `&type=${type}` : ''}`,
        headers: who.auth,
      })
      return (res.json() as { data: StreamedEvent[] }).data.reverse()
    }

    /** The customer's events in the stream's order, as the stream sends them. */
    const inStream = async (who: TestCustomer) =>
      (
        await streamAfter(t.db, who.id, { since: new Date(Date.now() - 3600_000), after: null }, 1000)
      ).events.map(({ stream: _, ...e }) => e as StreamedEvent)

    const ids = (es: { id: string }[]) => es.map((e) => e.id)

    it('a stream resumed with Last-Event-ID gets exactly the rest, in order; another customer sees none', async () => {
      const sa = await openSse(base, STREAM, a.auth)
      const sc = await openSse(base, STREAM, c.auth)
      assert.equal(sa.status, 200)
      await waitFor(() => sa.live() && sc.live(), 'both streams live', DEADLINE)

      const first = await send(a, 3)
      const others = await send(c, 2)
      await advance([...first, ...others], 'sent')
      await waitFor(() => sa.events.length === 6, 'A: 3 queued + 3 sent live', DEADLINE)

      // The client stops after 4 events (the 5th and 6th were on the wire: they must come again).
      const n = 4
      const lastSeen = sa.events[n - 1] as StreamedEvent
      const seenBefore = sa.events.slice(0, n)
      sa.close()

      // While it is away.
      await advance([...first, ...others], 'delivered')
      const later = await send(a, 1)

      const resumed = await openSse(base, STREAM, { ...a.auth, 'last-event-id': lastSeen.id })
      await waitFor(() => resumed.live(), 'resumed stream live', DEADLINE)
      // After it is live again.
      await advance(later, 'sent')
      await advance(later, 'delivered')

      const all = await inStream(a)
      assert.equal(all.length, 3 * 4, 'A: 4 queued, 4 sent, 4 delivered')
      assert.deepEqual(ids(all).sort(), ids(await listed(a)).sort(), 'the events of GET /v1/events')
      assert.deepEqual(ids(seenBefore), ids(all.slice(0, n)), 'the live stream sent them in the stream order')
      const rest = all.slice(n)
      await waitFor(
        () => resumed.events.length >= rest.length,
        `the ${rest.length} remaining events`,
        DEADLINE,
      )
      assert.deepEqual(
        resumed.events,
        rest,
        'exactly the rest, in order, the same envelopes as GET /v1/events',
      )

      const mine = await inStream(c)
      await waitFor(() => sc.events.length >= mine.length, "C's events", DEADLINE)
      assert.deepEqual(ids(sc.events), ids(mine))
      const aIds = new Set(ids(all))
      assert.ok(!sc.events.some((e) => aIds.has(e.id)), "C's stream saw none of A's events")
      assert.ok(!resumed.events.some((e) => ids(mine).includes(e.id)), "A's stream saw none of C's events")

      // Nothing repeated later either: one more event arrives alone.
      const last = await send(a, 1)
      await advance(last, 'sent')
      await waitFor(() => resumed.events.at(-1)?.data.id === last[0], 'the next event', DEADLINE)
      assert.equal(resumed.events.length, rest.length + 2, 'its queued and sent')
      resumed.close()
      sc.close()
    })

    it('types filters the stream, the replay included', async () => {
      const from = (await inStream(a))[0] as StreamedEvent
      const s = await openSse(base, `${STREAM}?types=message.delivered,message.received`, {
        ...a.auth,
        'last-event-id': from.id,
      })
      await waitFor(() => s.live(), 'live', DEADLINE)
      const more = await send(a, 1)
      await advance(more, 'sent')
      await advance(more, 'delivered')
      const expected = (await inStream(a)).filter((e) => e.type === 'message.delivered')
      await waitFor(() => s.events.length >= expected.length, 'delivered events', DEADLINE)
      assert.deepEqual(ids(s.events), ids(expected))
      assert.ok(s.events.every((e) => e.type === 'message.delivered'))
      s.close()
    })

    it('sends a comment line every heartbeat interval', async () => {
      const s = await openSse(base, STREAM, a.auth)
      await waitFor(() => s.comments.filter((x) => x === '').length >= 3, '3 heartbeats', DEADLINE)
      s.close()
    })

    it('the WebSocket on the same path carries the same envelopes, resumes from last_event_id and goes live', async () => {
      const all = await inStream(a)
      const from = all[2] as StreamedEvent
      const ws = await openWs(base, `${STREAM}?last_event_id=${from.id}`, a.auth)
      const rest = all.slice(3)
      await waitFor(() => ws.events.length >= rest.length, 'the replay', DEADLINE)
      assert.deepEqual(ws.events, rest)
      const more = await send(a, 1)
      await advance(more, 'sent')
      await waitFor(() => ws.events.at(-1)?.data.id === more[0], 'a live event', DEADLINE)
      assert.deepEqual(ws.events.at(-1), (await inStream(a)).at(-1))
      await waitFor(() => ws.pings >= 2, 'pings', DEADLINE)
      ws.close()
      await assert.rejects(openWs(base, STREAM, {}), /upgrade refused: 401/)
      await assert.rejects(openWs(base, `${STREAM}?last_event_id=evt_nope`, a.auth), /upgrade refused: 400/)
    })

    it('refuses before streaming: no key 401, a bad or expired Last-Event-ID or unknown type 400, no bus 503', async () => {
      const get = (headers: Record<string, string>, url = STREAM) =>
        t.app.inject({ method: 'GET', url, headers })
      assert.equal((await get({})).statusCode, 401)
      const bad = await get({ ...a.auth, 'last-event-id': 'evt_123' })
      assert.equal(bad.statusCode, 400)
      assert.equal((bad.json() as { error: { param: string } }).error.param, 'Last-Event-ID')
      const old = await get({ ...a.auth, 'last-event-id': statusEventId('1', Date.now() - 25 * 3600_000) })
      assert.equal(old.statusCode, 400)
      assert.match((old.json() as { error: { message: string } }).error.message, /older than the 24 h/)
      assert.equal((await get(a.auth, `${STREAM}?types=message.nope`)).statusCode, 400)
      // An api process without a bus has nothing live to send.
      const busless = await startApp(pg.url)
      try {
        const res = await busless.app.inject({ method: 'GET', url: STREAM, headers: a.auth })
        assert.equal(res.statusCode, 503)
        assert.equal((res.json() as { error: { code: string } }).error.code, 'unavailable')
      } finally {
        await busless.close()
      }
    })
  })
}

describe('live event stream: a client that reads nothing', () => {
  let pg: FreshDatabase
  let b: BusUnderTest
  let t: TestApp
  let base: string

  before(async () => {
    pg = await freshDatabase()
    b = await busesUnderTest.memory()
    t = await startApp(pg.url, {
      env: { SMSGW_STREAM_MAX_BUFFER_BYTES: '65536', SMSGW_STREAM_HEARTBEAT_MS: '200' },
      deps: { bus: b.bus },
    })
    base = await t.app.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => {
    await t?.close()
    await b?.cleanup()
    await pg?.drop()
  })

  it('is disconnected once its unsent output passes the limit', async () => {
    await setRates(t.app)
    const who = await createCustomer(t.app, { name: 'stalled', credit: '1000.00' })
    // Far more than the loopback socket buffers can hold (the receive buffer may grow to
    // tcp_rmem's maximum, 32 MB here, plus 4 MB sent): the replay must hit the limit. 8,000 events
    // (~13 MB) were once absorbed whole in a full-suite run.
    const body = 'x'.repeat(1500)
    const firstIds: string[] = []
    for (let i = 0; i < 16; i++) {
      const reqs = Array.from({ length: 2000 }, () => acceptRequest(who.id, { body }))
      await t.db.transaction((tx) => acceptBatch(tx, reqs, renderStub))
      firstIds.push(reqs[0]?.message.id as string)
    }
    // Dispatched: a message.queued is streamed with its message's first status change.
    await t.db.query(
      `INSERT INTO message_events (message_id, customer_id, status, created_at)
       SELECT id, customer_id, 'sending', now() FROM messages WHERE customer_id = $1`,
      [who.id],
    )
    const first = { id: queuedEventId(firstIds[0] as string) }
    const openStreams = async () => {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      return Number(/^smsgw_event_streams_open (\d+)$/m.exec(res.body)?.[1])
    }
    const s = await openSse(base, STREAM, { ...who.auth, 'last-event-id': first.id }, { paused: true })
    assert.equal(s.status, 200)
    await waitFor(async () => (await openStreams()) === 1, 'the stream open', DEADLINE)
    // Its replay stops draining: closed after two heartbeat intervals (a paused client cannot see it).
    // The replay reads only rows below the cluster's xmin: in the full suite another file's open
    // write transaction can hold it back for a while (seen: > 30 s), so the wait is long.
    await waitFor(async () => (await openStreams()) === 0, 'the server closed the stream', 180_000)
    s.close()
  })
})
