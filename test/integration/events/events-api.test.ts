// GET /v1/events[/{id}] and /v1/webhook_endpoints over real PostgreSQL (no bus: status changes are
// written by the status writer directly, as a worker would).

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import { openSecret } from '../../../src/events/webhook-secrets.ts'
import {
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

const KEY = randomBytes(32)

interface Envelope {
  id: string
  type: string
  created_at: string
  data: { id: string; status: string; is_final: boolean }
}
interface Page<T> {
  data: T[]
  has_more: boolean
  next_cursor: string | null
}

describe('events API and webhook endpoints (PostgreSQL)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let a: TestCustomer
  let b: TestCustomer
  const ids: string[] = []

  before(async () => {
    pg = await freshDatabase()
    // Room for the parallel creations below; the write budget itself is tested with its own customer.
    t = await startApp(pg.url, { env: { SMSGW_WRITE_RATE_LIMIT_RPS: '20' }, deps: { webhookKey: () => KEY } })
    await setRates(t.app)
    a = await createCustomer(t.app, { name: 'a', credit: '10.00' })
    b = await createCustomer(t.app, { name: 'b', credit: '10.00' })
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: a.auth,
        payload: sendBody(),
      })
      ids.push((res.json() as { id: string }).id)
    }
    const writer = createStatusWriter(t.db)
    for (const status of ['sent', 'delivered'] as const) {
      for (const id of ids) {
        const { rows } = await t.db.query<{ created_at: Date }>(
          'SELECT created_at FROM messages WHERE id = $1',
          [id],
        )
        const [m] = rows
        assert.ok(m)
        await writer.write({ messageId: id, createdAt: m.created_at.toISOString(), status })
      }
    }
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  const get = async <T>(c: TestCustomer, url: string) => {
    const res = await t.app.inject({ method: 'GET', url, headers: c.auth })
    return { status: res.statusCode, body: res.json() as T }
  }

  it('lists every event newest first, paginated without gaps or repeats', async () => {
    const all = await get<Page<Envelope>>(a, '/v1/events?limit=1000')
    assert.equal(all.status, 200)
    assert.equal(all.body.data.length, 9, 'queued, sent, delivered for 3 messages')
    const times = all.body.data.map((e) => e.created_at)
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first')
    for (const e of all.body.data) {
      assert.match(e.id, /^evt_[0-9A-Z]{26}$/)
      assert.equal(e.data.status, e.type.replace('message.', ''))
      assert.equal(e.data.is_final, e.type === 'message.delivered')
    }
    const paged: string[] = []
    let cursor: string | null = null
    do {
      const url: string = `/v1/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const p: { status: number; body: Page<Envelope> } = await get<Page<Envelope>>(a, url)
      assert.equal(p.status, 200)
      paged.push(...p.body.data.map((e) => e.id))
      cursor = p.body.next_cursor
    } while (cursor)
    assert.deepEqual(
      paged,
      all.body.data.map((e) => e.id),
    )
  })

  it('filters by type and created_after', async () => {
    const queued = await get<Page<Envelope>>(a, '/v1/events?type=message.queued')
    assert.deepEqual(queued.body.data.map((e) => e.data.id).sort(), [...ids].sort())
    const delivered = await get<Page<Envelope>>(a, '/v1/events?type=message.delivered')
    assert.equal(delivered.body.data.length, 3)
    assert.ok(delivered.body.data.every((e) => e.type === 'message.delivered'))
    const future = new Date(Date.now() + 60_000).toISOString()
    const none = await get<Page<Envelope>>(a, `/v1/events?created_after=${encodeURIComponent(future)}`)
    assert.deepEqual(none.body.data, [])
    assert.equal((await get(a, '/v1/events?type=message.bogus')).status, 400)
    assert.equal((await get(a, '/v1/events?cursor=bm9wZQ')).status, 400)
  })

  it("finds one event by id, and another tenant's or a made-up id is 404", async () => {
    const all = await get<Page<Envelope>>(a, '/v1/events')
    for (const e of all.body.data) {
      const one = await get<Envelope>(a, `/v1/events/${e.id}`)
      assert.equal(one.status, 200)
      assert.deepEqual(one.body, e)
      assert.equal((await get(b, `/v1/events/${e.id}`)).status, 404)
    }
    assert.deepEqual((await get<Page<Envelope>>(b, '/v1/events')).body.data, [])
    for (const bad of ['evt_01JQ0000000000000000000000', 'evt_x', 'nope', 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ']) {
      assert.equal((await get(a, `/v1/events/${bad}`)).status, 404, bad)
    }
  })

  it('webhook endpoints: secret once, sealed at rest, not in an idempotent replay; CRUD is per tenant', async () => {
    const payload = {
      url: 'https://hooks.example.com/sms',
      events: ['message.delivered'],
      description: 'prod',
    }
    const headers = { ...a.auth, 'idempotency-key': 'ep-1' }
    const made = await t.app.inject({ method: 'POST', url: '/v1/webhook_endpoints', headers, payload })
    assert.equal(made.statusCode, 201, made.body)
    const ep = made.json() as { id: string; secret: string; events: string[]; enabled: boolean }
    assert.match(ep.secret, /^whsec_/)
    assert.deepEqual(ep.events, ['message.delivered'])
    const replay = await t.app.inject({ method: 'POST', url: '/v1/webhook_endpoints', headers, payload })
    assert.equal(replay.statusCode, 201)
    assert.equal(replay.headers['idempotent-replayed'], 'true')
    assert.equal(replay.json().id, ep.id)
    assert.equal(replay.json().secret, undefined, 'a replay never carries the secret')

    const { rows } = await t.db.query<{ secret_enc: Uint8Array }>(
      'SELECT secret_enc FROM webhook_endpoints WHERE id = $1',
      [ep.id],
    )
    const sealed = Buffer.from(rows[0]?.secret_enc as Uint8Array)
    assert.ok(!sealed.toString('latin1').includes(ep.secret.slice(6, 20)), 'not stored in clear')
    assert.equal(openSecret(KEY, sealed), ep.secret)
    const idem = await t.db.query<{ response: string }>('SELECT response FROM idempotency_keys')
    assert.ok(
      idem.rows.every((r) => !r.response.includes(ep.secret)),
      'the stored replay has no secret',
    )

    const listed = await get<Page<{ id: string; secret?: string }>>(a, '/v1/webhook_endpoints')
    assert.deepEqual(
      listed.body.data.map((e) => [e.id, e.secret]),
      [[ep.id, undefined]],
    )
    assert.deepEqual((await get<Page<unknown>>(b, '/v1/webhook_endpoints')).body.data, [])
    assert.equal((await get(b, `/v1/webhook_endpoints/${ep.id}`)).status, 404)
    assert.equal((await get(b, `/v1/webhook_endpoints/${ep.id}/deliveries`)).status, 404)

    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/webhook_endpoints/${ep.id}`,
      headers: a.auth,
      payload: { events: null, enabled: false },
    })
    assert.equal(patched.statusCode, 200, patched.body)
    assert.deepEqual([patched.json().events, patched.json().enabled], [[], false])
    const foreignPatch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/webhook_endpoints/${ep.id}`,
      headers: b.auth,
      payload: { enabled: true },
    })
    assert.equal(foreignPatch.statusCode, 404)
    const foreignRotate = await t.app.inject({
      method: 'POST',
      url: `/v1/webhook_endpoints/${ep.id}/rotate_secret`,
      headers: b.auth,
    })
    assert.equal(foreignRotate.statusCode, 404)

    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/v1/webhook_endpoints/${ep.id}`,
      headers: a.auth,
    })
    assert.deepEqual(deleted.json(), { id: ep.id, object: 'webhook_endpoint', deleted: true })
    assert.equal((await get(a, `/v1/webhook_endpoints/${ep.id}`)).status, 404)
  })

  it('refuses endpoint URLs that are not https or point at forbidden addresses', async () => {
    for (const url of [
      'http://hooks.example.com/x',
      'https://10.0.0.1/x',
      'https://169.254.169.254/latest',
      'https://localhost/x',
      'https://127.0.0.1/x',
      'not a url',
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/webhook_endpoints',
        headers: a.auth,
        payload: { url },
      })
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
      assert.equal(res.json().error.param, 'url')
    }
    const made = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: a.auth,
      payload: { url: 'https://hooks.example.com/patch-me' },
    })
    const patchMe = (made.json() as { id: string }).id
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/webhook_endpoints/${patchMe}`,
      headers: a.auth,
      payload: { url: 'https://169.254.169.254/x' },
    })
    assert.equal(patched.statusCode, 400)
    assert.equal(
      (await get<{ url: string }>(a, `/v1/webhook_endpoints/${patchMe}`)).body.url,
      'https://hooks.example.com/patch-me',
    )
    await t.app.inject({ method: 'DELETE', url: `/v1/webhook_endpoints/${patchMe}`, headers: a.auth })
    const badType = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: a.auth,
      payload: { url: 'https://hooks.example.com/x', events: ['message.nope'] },
    })
    assert.equal(badType.statusCode, 400)
  })

  it('redeliver queues the event to every subscribed endpoint, and is 404 for a foreign event', async () => {
    const ep = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: a.auth,
      payload: { url: 'https://hooks.example.com/all' },
    })
    assert.equal(ep.statusCode, 201)
    const [e] = (await get<Page<Envelope>>(a, '/v1/events?limit=1')).body.data
    const res = await t.app.inject({ method: 'POST', url: `/v1/events/${e?.id}/redeliver`, headers: a.auth })
    assert.equal(res.statusCode, 202, res.body)
    assert.deepEqual(res.json(), { event_id: e?.id, endpoints: 1 })
    const { rows } = await t.db.query<{ state: string }>(
      'SELECT state FROM webhook_deliveries WHERE event_id = $1',
      [e?.id],
    )
    assert.deepEqual(
      rows.map((r) => r.state),
      ['pending'],
    )
    // Its chain is still pending: redelivering again queues nothing new and restarts nothing.
    const again = await t.app.inject({
      method: 'POST',
      url: `/v1/events/${e?.id}/redeliver`,
      headers: a.auth,
    })
    assert.deepEqual(again.json(), { event_id: e?.id, endpoints: 0 })
    const foreign = await t.app.inject({
      method: 'POST',
      url: `/v1/events/${e?.id}/redeliver`,
      headers: b.auth,
    })
    assert.equal(foreign.statusCode, 404)
  })

  it('pages exactly through events that share one timestamp (a group commit), across 99 -> 100 ids', async () => {
    const c = await createCustomer(t.app, { name: 'ties', credit: '1.00' })
    const sent = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody(),
    })
    const messageId = (sent.json() as { id: string }).id
    const ids = Array.from({ length: 12 }, (_, i) => 98 + i)
    await t.db.query(
      `INSERT INTO message_events (id, message_id, customer_id, status, created_at)
       SELECT i, $1, $2, 'sent', now() FROM unnest($3::bigint[]) AS i`,
      [messageId, c.id, ids],
    )
    const all = (await get<Page<Envelope>>(c, '/v1/events?type=message.sent&limit=1000')).body.data.map(
      (e) => e.id,
    )
    assert.equal(all.length, 12)
    const paged: string[] = []
    let cursor: string | null = null
    do {
      const url: string = `/v1/events?type=message.sent&limit=1${cursor ? `&cursor=${cursor}` : ''}`
      const p: { status: number; body: Page<Envelope> } = await get<Page<Envelope>>(c, url)
      paged.push(...p.body.data.map((e) => e.id))
      cursor = p.body.next_cursor
    } while (cursor)
    assert.deepEqual(paged, all)
    assert.equal(new Set(paged).size, 12)
  })

  it('a customer has at most 16 endpoints, also when they are created at once', async () => {
    const c = await createCustomer(t.app, { name: 'many' })
    const create = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/webhook_endpoints',
        headers: c.auth,
        payload: { url: 'https://hooks.example.com/x' },
      })
    // In parallel: each creation counts under a lock of the customer's endpoints.
    const all = await Promise.all(Array.from({ length: 20 }, create))
    assert.deepEqual(all.map((r) => r.statusCode).sort(), [...Array(16).fill(201), ...Array(4).fill(400)])
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM webhook_endpoints WHERE customer_id = $1',
      [c.id],
    )
    assert.equal(rows[0]?.n, 16)
    const refused = all.find((r) => r.statusCode === 400)
    assert.match(refused?.json().error.message ?? '', /at most 16/)
  })

  it('webhook writes have a per-customer budget (429 rate_limited); reads do not take from it', async () => {
    const c = await createCustomer(t.app, { name: 'writes' })
    const redeliver = () =>
      t.app.inject({ method: 'POST', url: '/v1/events/evt_nothing/redeliver', headers: c.auth })
    const answers = await Promise.all(Array.from({ length: 30 }, redeliver))
    const codes = answers.map((r) => r.statusCode)
    assert.ok(codes.filter((s) => s === 429).length >= 5, JSON.stringify(codes))
    const limited = answers.find((r) => r.statusCode === 429)
    assert.equal(limited?.json().error.code, 'rate_limited')
    assert.equal(limited?.headers['x-ratelimit-limit'], '20')
    assert.ok(Number(limited?.headers['retry-after']) >= 1)
    const list = await t.app.inject({ method: 'GET', url: '/v1/webhook_endpoints', headers: c.auth })
    assert.equal(list.statusCode, 200)
  })
})
