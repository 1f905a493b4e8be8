// Webhooks end to end over real PostgreSQL and NATS JetStream: the API accepts a message, the
// pipeline delivers it through the SMPP simulator, the relay publishes its status changes, and
// the webhook role signs and POSTs every event to a real HTTP receiver on 127.0.0.1.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import type { Bus } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { createStatusEventRelay, type StatusEventRelay } from '../../../src/events/relay.ts'
import {
  createWebhookDelivery,
  DEFAULT_PER_TARGET,
  type WebhookDelivery,
} from '../../../src/events/webhook-delivery.ts'
import { createWebhookSender, type WebhookSender } from '../../../src/events/webhook-sender.ts'
import { webhooksDelivered } from '../../../src/reconcile/webhook-checks.ts'
import { createCustomer, sendBody, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { waitFor } from '../../helpers/wait.ts'
import type { Received, Receiver } from '../../helpers/webhook-receiver.ts'
import { type WebhookTestApp, webhookTestApp } from '../../helpers/webhooks.ts'

const FINAL = 'message.delivered'

describe('webhooks end to end (PostgreSQL, NATS, SMPP simulator, real receiver)', () => {
  let t: TestApp
  let bus: Bus
  let stream: string
  let sim: CarrierSim
  let pipeline: Pipeline
  let relay: StatusEventRelay
  let sender: WebhookSender
  let delivery: WebhookDelivery
  let rx: Receiver
  let w: WebhookTestApp
  let KEY: Buffer

  const startDelivery = async () => {
    sender = createWebhookSender({ allowInsecure: true, timeoutMs: 10_000 })
    delivery = createWebhookDelivery({
      allowInsecure: true,
      db: t.db,
      bus,
      sender,
      key: () => KEY,
      retryBaseMs: 20,
      retryMaxMs: 1000,
      leaseMs: 30_000,
    })
    await delivery.start()
  }
  const stopDelivery = async () => {
    await delivery.stop()
    await sender.close()
  }

  before(async () => {
    const id = randomBytes(5).toString('hex')
    stream = `TEST_WH_${id}`
    bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: `wh_${id}` })
    // With the bus, the api announces new endpoints to the webhooks role at once (ADR 0021), as in production.
    w = await webhookTestApp({ bus })
    ;({ t, rx, key: KEY } = w)
    sim = await createCarrierSim({ receiptDelayMs: 10 })
    pipeline = createPipeline({
      makeCarrier: createCarrier,
      db: t.db,
      bus,
      carriers: [simSmppCarrier('sim', sim.smppPort, { weight: 1 })],
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
    relay = createStatusEventRelay({ db: t.db, bus, idleMs: 5, maxIdleMs: 20 })
    relay.start()
    await startDelivery()
  })
  after(async () => {
    await stopDelivery()
    await relay?.stop()
    await pipeline?.stop()
    await bus?.close()
    await deleteStream(stream)
    await sim?.close()
    await w?.close()
  })

  const customer = (name: string) => createCustomer(t.app, { name, credit: '100.00' })
  const endpoint = async (c: TestCustomer, path: string, extra: Record<string, unknown> = {}) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: c.auth,
      payload: { url: rx.url(path), ...extra },
    })
    assert.equal(res.statusCode, 201, res.body)
    return res.json() as { id: string; secret: string; url: string; events: string[] }
  }
  const send = async (c: TestCustomer, over: Record<string, unknown> = {}) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody(over),
    })
    assert.equal(res.statusCode, 202, res.body)
    return (res.json() as { id: string }).id
  }
  const eventsOf = (path: string, messageId: string) =>
    rx.on(path).filter((r) => r.event.data.id === messageId)
  const typesOf = (rs: Received[]) => [...new Set(rs.map((r) => r.event.type))].sort()
  /** The message's events as the API lists them (the expected webhooks). */
  const apiEvents = async (c: TestCustomer, messageId: string) => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/events?limit=1000', headers: c.auth })
    assert.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: Received['event'][] }).data.filter((e) => e.data.id === messageId)
  }

  it("a message's life reaches the endpoint and the status_callback_url, signed; a wrong secret fails", async () => {
    const c = await customer('life')
    const ep = await endpoint(c, '/life')
    assert.match(ep.secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
    const shown = await t.app.inject({
      method: 'GET',
      url: `/v1/webhook_endpoints/${ep.id}`,
      headers: c.auth,
    })
    assert.equal(shown.json().secret, undefined, 'the secret is shown once')

    const id = await send(c, { status_callback_url: rx.url('/life-cb') })
    await waitFor(
      () => eventsOf('/life', id).some((r) => r.event.type === FINAL),
      'delivered at the endpoint',
      20_000,
    )
    const want = typesOf((await apiEvents(c, id)).map((event) => ({ event }) as Received))
    for (const type of ['message.queued', 'message.sent', FINAL]) assert.ok(want.includes(type), type)
    await waitFor(
      () => typesOf(eventsOf('/life', id)).join() === want.join(),
      'endpoint got the whole life',
      20_000,
    )
    await waitFor(
      () => typesOf(eventsOf('/life-cb', id)).join() === want.join(),
      'callback got the whole life',
      20_000,
    )

    const wh = new Webhook(ep.secret)
    const wrong = new Webhook(`whsec_${randomBytes(32).toString('base64')}`)
    for (const r of [...eventsOf('/life', id), ...eventsOf('/life-cb', id)]) {
      const verified = wh.verify(r.body, r.headers) as Received['event']
      assert.equal(verified.id, r.headers['webhook-id'])
      assert.match(verified.id, /^evt_/)
      assert.equal(
        verified.data.status,
        verified.type.slice('message.'.length),
        'data is the message as of the event',
      )
      assert.throws(() => wrong.verify(r.body, r.headers), /signature/i)
    }
    // Every event the API lists is the one that was POSTed, byte for byte.
    const listed = await apiEvents(c, id)
    assert.deepEqual(typesOf(listed.map((event) => ({ event }) as Received)), want)
    for (const e of listed) {
      const posted = eventsOf('/life', id).find((r) => r.event.id === e.id)
      assert.ok(posted, `${e.type} was posted`)
      assert.deepEqual(JSON.parse(posted.body), e)
      const one = await t.app.inject({ method: 'GET', url: `/v1/events/${e.id}`, headers: c.auth })
      assert.equal(one.statusCode, 200)
      assert.equal(one.body, posted.body)
    }
    // Another tenant never sees it.
    const other = await customer('other')
    const foreign = await t.app.inject({
      method: 'GET',
      url: `/v1/events/${listed[0]?.id}`,
      headers: other.auth,
    })
    assert.equal(foreign.statusCode, 404)
  })

  it('500 three times then 200: delivered, with the four attempts in deliveries', async () => {
    const c = await customer('flaky')
    rx.setBehavior('/flaky', (n) => (n <= 3 ? 500 : 200))
    const ep = await endpoint(c, '/flaky', { events: [FINAL] })
    const id = await send(c)
    const got = await waitFor(() => eventsOf('/flaky', id)[0], 'the delivered event after three 500s', 20_000)
    assert.equal(got.event.type, FINAL)
    assert.equal(eventsOf('/flaky', id).length, 1, 'only the subscribed type')
    const attempts = await waitFor(async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/webhook_endpoints/${ep.id}/deliveries`,
        headers: c.auth,
      })
      const data = (
        res.json() as {
          data: { event_id: string; attempt: number; status_code: number; next_retry_at: string | null }[]
        }
      ).data
      return data.length >= 4 ? data : undefined
    }, 'four attempts logged')
    assert.deepEqual(
      attempts.map((a) => [a.event_id, a.attempt, a.status_code]),
      [
        [got.event.id, 4, 200],
        [got.event.id, 3, 500],
        [got.event.id, 2, 500],
        [got.event.id, 1, 500],
      ],
    )
    assert.equal(attempts[0]?.next_retry_at, null)
    assert.ok(
      attempts.slice(1).every((a) => a.next_retry_at !== null),
      'failed attempts name their retry',
    )
  })

  it('rotate_secret: both secrets sign for the overlap', async () => {
    const c = await customer('rotate')
    const ep = await endpoint(c, '/rotate', { events: [FINAL] })
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/webhook_endpoints/${ep.id}/rotate_secret`,
      headers: c.auth,
    })
    assert.equal(res.statusCode, 200, res.body)
    const fresh = (res.json() as { secret: string }).secret
    assert.notEqual(fresh, ep.secret)
    const id = await send(c)
    const got = await waitFor(() => eventsOf('/rotate', id)[0], 'a webhook after the rotation', 20_000)
    assert.equal(got.headers['webhook-signature']?.split(' ').length, 2)
    for (const s of [fresh, ep.secret]) assert.ok(new Webhook(s).verify(got.body, got.headers))
  })

  it("a receiver that hangs for one customer does not hold back another's", async () => {
    const slow = await customer('slow')
    const fast = await customer('fast')
    rx.setBehavior('/hang', () => 'hang')
    await endpoint(slow, '/hang')
    await endpoint(fast, '/fast', { events: [FINAL] })
    const slowIds = await Promise.all(Array.from({ length: 10 }, () => send(slow)))
    await waitFor(() => rx.hangingCount() >= 4, 'the slow endpoint holding requests', 20_000)
    const fastIds = await Promise.all(Array.from({ length: 5 }, () => send(fast)))
    // The hanging requests last until the sender's 10 s timeout; everything of the other customer
    // must arrive while they are still open.
    await waitFor(
      () => fastIds.every((id) => eventsOf('/fast', id).length === 1),
      "the other customer's webhooks",
      8000,
    )
    assert.ok(
      rx.hangingCount() > 0 && rx.hangingCount() <= DEFAULT_PER_TARGET,
      `per-endpoint concurrency: ${rx.hangingCount()} open`,
    )
    assert.equal(rx.on('/hang').length, 0)
    assert.ok(slowIds.length === 10)
    rx.setBehavior('/hang', () => 200)
    rx.release()
    await waitFor(
      () => slowIds.every((id) => eventsOf('/hang', id).length > 0),
      'the slow endpoint catches up',
      20_000,
    )
  })

  it("measures B's webhook latency with and without A's hanging receiver (p95s reported, isolation asserted)", async (tc) => {
    // Issue 10: B's p95 with A hanging should stay within 2x of the no-fault run. A wall-clock
    // bound has no place in a test on a shared machine: the figures are reported, what is asserted
    // is the structure (every B webhook arrives while A's requests hang, A holds only its slots).
    const b = await customer('b-measured')
    await endpoint(b, '/b', { events: [FINAL] })
    const N = 30
    /** B's N messages: status change (event time) to webhook received, ms, sorted. */
    const latencies = async () => {
      const ids = await Promise.all(Array.from({ length: N }, () => send(b)))
      const got = await waitFor(
        () => {
          const rs = ids.map((id) => eventsOf('/b', id)[0])
          return rs.every((r) => r !== undefined) && (rs as Received[])
        },
        "B's webhooks",
        20_000,
      )
      return got.map((r) => r.receivedAt - Date.parse(r.event.created_at)).sort((x, y) => x - y)
    }
    const p95 = (xs: number[]) => xs[Math.ceil(xs.length * 0.95) - 1] as number
    const calm = await latencies()
    const a = await customer('a-hanging')
    rx.setBehavior('/a-hang', () => 'hang')
    await endpoint(a, '/a-hang')
    const aIds = await Promise.all(Array.from({ length: 10 }, () => send(a)))
    await waitFor(() => rx.hangingCount() >= DEFAULT_PER_TARGET, "A's slots all hanging", 20_000)
    const faulted = await latencies()
    // Every B webhook arrived while A's requests were still hanging, and A holds only its own slots.
    assert.ok(
      rx.hangingCount() > 0 && rx.hangingCount() <= DEFAULT_PER_TARGET,
      `A holds ${rx.hangingCount()} requests`,
    )
    assert.equal(rx.on('/a-hang').length, 0)
    const figures = `B p95 ${p95(calm)} ms without a fault, ${p95(faulted)} ms with A hanging (p50 ${calm[N / 2]} / ${faulted[N / 2]} ms, ${N} webhooks each)`
    tc.diagnostic(figures)
    console.error(`webhook isolation: ${figures}`)
    rx.setBehavior('/a-hang', () => 200)
    rx.release()
    await waitFor(() => aIds.every((id) => eventsOf('/a-hang', id).length > 0), 'A catches up', 30_000)
  })

  it('a webhook role stopped mid-stream and restarted loses no event', async () => {
    const c = await customer('restart')
    await endpoint(c, '/restart')
    const first = await Promise.all(Array.from({ length: 5 }, () => send(c)))
    await waitFor(() => rx.on('/restart').length > 0, 'some webhooks before the stop', 20_000)
    await stopDelivery()
    const second = await Promise.all(Array.from({ length: 5 }, () => send(c)))
    // While the role is down, the messages finish: their events wait on the bus and in PostgreSQL.
    await waitFor(
      async () => {
        const { rows } = await t.db.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM messages WHERE id = ANY($1::uuid[]) AND status = 'delivered'`,
          [second],
        )
        return rows[0]?.n === '5'
      },
      'the second batch delivered while webhooks are down',
      20_000,
    )
    await startDelivery()
    for (const id of [...first, ...second]) {
      const expected = (await apiEvents(c, id)).map((e) => e.id).sort()
      assert.ok(expected.length >= 3, `${expected.length} events`)
      await waitFor(
        () => [...new Set(eventsOf('/restart', id).map((r) => r.event.id))].sort().join() === expected.join(),
        `every event of ${id}`,
        20_000,
      )
    }
  })

  it('a receiver down under load: once it is back every event arrives, none lost, each chain settled', async () => {
    const c = await customer('down')
    const ep = await endpoint(c, '/down')
    await rx.pause()
    try {
      const ids = await Promise.all(Array.from({ length: 20 }, () => send(c)))
      await waitFor(
        async () => {
          const { rows } = await t.db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM messages WHERE id = ANY($1::uuid[]) AND status = 'delivered'`,
            [ids],
          )
          return rows[0]?.n === String(ids.length)
        },
        'every message delivered while the receiver is down',
        30_000,
      )
      // The connection refusals were retried, not dropped. (This app announces no endpoint change:
      // the webhooks role learns of the endpoint from its next read of the set, ADR 0021.)
      await waitFor(
        async () => {
          const { rows: failing } = await t.db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM webhook_attempts WHERE endpoint_id = $1 AND status_code IS NULL`,
            [ep.id],
          )
          return Number(failing[0]?.n) > 0
        },
        'attempts failed while down',
        10_000,
      )
    } finally {
      await rx.resume()
    }
    const res = await t.app.inject({ method: 'GET', url: '/v1/events?limit=1000', headers: c.auth })
    const expected = (res.json() as { data: { id: string }[] }).data.map((e) => e.id).sort()
    assert.ok(expected.length >= 60, `${expected.length} events`)
    await waitFor(
      () => new Set(rx.on('/down').map((r) => r.event.id)).size === expected.length,
      'every event after the receiver came back',
      30_000,
    )
    assert.deepEqual([...new Set(rx.on('/down').map((r) => r.event.id))].sort(), expected)
    // One chain per event for this endpoint, each recorded as succeeded (the receiver answers
    // before the attempt is recorded: wait for the records).
    const rows = await waitFor(
      async () => {
        const { rows } = await t.db.query<{ event_id: string; state: string }>(
          'SELECT event_id, state FROM webhook_deliveries WHERE endpoint_id = $1',
          [ep.id],
        )
        return rows.every((r) => r.state === 'succeeded') && rows
      },
      'every chain recorded as succeeded',
      30_000,
    )
    assert.deepEqual(rows.map((r) => r.event_id).sort(), expected)
  })

  it('reconciliation: every subscribed event reached its endpoints, and a lost one is found', async () => {
    const settled = () => webhooksDelivered(t.db, { settled: true, stallAfterS: 0 })
    await waitFor(async () => (await settled()).ok, 'every chain settled', 30_000)
    const { rows } = await t.db.query<{ id: string; event_id: string; target: string }>(
      `SELECT id::text, event_id, target FROM webhook_deliveries WHERE endpoint_id IS NOT NULL ORDER BY id LIMIT 1`,
    )
    const lost = rows[0]
    assert.ok(lost)
    await t.db.query('DELETE FROM webhook_deliveries WHERE id = $1', [lost.id])
    const check = await settled()
    assert.equal(check.ok, false)
    assert.equal(check.found, 1)
    assert.deepEqual(check.samples, [`${lost.event_id} to ${lost.target}`])
    assert.match(check.detail, /never queued/)
  })
})
