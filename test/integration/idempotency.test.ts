import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  adminHeaders,
  createCustomer,
  moneySnapshot,
  sendBody,
  setRates,
  startApp,
  type TestApp,
} from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

// Invariant 4: Idempotency-Key makes client retries safe — one charge, one message, same answer.
describe('Idempotency-Key (real PostgreSQL, two api instances)', () => {
  let pg: FreshDatabase
  let a: TestApp
  let b: TestApp

  before(async () => {
    pg = await freshDatabase()
    a = await startApp(pg.url, { env: { SMSGW_GROUP_MAX: '16' } })
    b = await startApp(pg.url, { env: { SMSGW_GROUP_MAX: '16' } })
    await setRates(a.app)
  })
  after(async () => {
    await a?.close()
    await b?.close()
    await pg?.drop()
  })

  const post = (t: TestApp, auth: object, key: string, payload: object) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...auth, 'idempotency-key': key },
      payload,
    })

  it('50 concurrent sends with one key: one charge, one message, identical 202 bodies', async () => {
    const c = await createCustomer(a.app, { credit: '10.00' })
    const key = 'order-8812-attempt'
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(i % 2 ? a : b, c.auth, key, sendBody())),
    )
    assert.deepEqual(new Set(results.map((r) => r.statusCode)), new Set([202]))
    assert.equal(new Set(results.map((r) => r.body)).size, 1, 'every response body is byte-identical')
    const { rows } = await a.db.query<{ messages: string; charges: string }>(
      `SELECT (SELECT count(*) FROM messages WHERE customer_id = $1)::text AS messages,
              (SELECT count(*) FROM ledger WHERE customer_id = $1 AND kind = 'charge')::text AS charges`,
      [c.id],
    )
    assert.deepEqual(rows[0], { messages: '1', charges: '1' })
    const bal = await a.app.inject({ method: 'GET', url: '/v1/balance', headers: c.auth })
    assert.equal(bal.json().balance.amount, '9.9921')
  })

  it('same key with a different body is 422 idempotency_key_reused and changes nothing', async () => {
    const c = await createCustomer(a.app, { credit: '10.00' })
    const first = await post(a, c.auth, 'k-1', sendBody())
    assert.equal(first.statusCode, 202)
    const before = await moneySnapshot(a.db)
    const again = await post(b, c.auth, 'k-1', sendBody({ body: 'a different body' }))
    assert.equal(again.statusCode, 422)
    assert.equal(again.json().error.code, 'idempotency_key_reused')
    assert.deepEqual(await moneySnapshot(a.db), before)
    // The original still replays.
    const replay = await post(a, c.auth, 'k-1', sendBody())
    assert.equal(replay.statusCode, 202)
    assert.equal(replay.body, first.body)
    assert.equal(replay.headers['idempotent-replayed'], 'true')
  })

  it('mixed bodies under one key in one burst: exactly one charge, the rest replay or 422', async () => {
    const c = await createCustomer(a.app, { credit: '10.00' })
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(i % 2 ? a : b, c.auth, 'k-mixed', sendBody({ body: i % 4 ? 'x' : 'y' })),
      ),
    )
    const ok = results.filter((r) => r.statusCode === 202)
    const reused = results.filter((r) => r.statusCode === 422)
    assert.equal(ok.length + reused.length, 20)
    assert.equal(new Set(ok.map((r) => r.body)).size, 1)
    const { rows } = await a.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM ledger WHERE customer_id = $1 AND kind = 'charge'",
      [c.id],
    )
    assert.equal(rows[0]?.n, '1')
  })

  it('a body containing the internal balance placeholder is echoed intact; the balance is right', async () => {
    const c = await createCustomer(a.app, { credit: '1.00' })
    const body = 'tricky __smsgw_balance_after__ "balance":{"amount":"__smsgw_balance_after__"'
    const first = await post(a, c.auth, 'k-token', sendBody({ body }))
    assert.equal(first.statusCode, 202)
    assert.equal(first.json().body, body)
    assert.equal(first.json().balance.amount, '0.9921')
    const replay = await post(b, c.auth, 'k-token', sendBody({ body }))
    assert.equal(replay.body, first.body, 'the stored replay is byte-identical')
  })

  it('keys are per customer: two customers may use the same key', async () => {
    const c1 = await createCustomer(a.app, { credit: '1.00' })
    const c2 = await createCustomer(a.app, { credit: '1.00' })
    const r1 = await post(a, c1.auth, 'shared-key', sendBody())
    const r2 = await post(a, c2.auth, 'shared-key', sendBody())
    assert.equal(r1.statusCode, 202)
    assert.equal(r2.statusCode, 202)
    assert.notEqual(r1.json().id, r2.json().id)
  })

  it('a 402 is not stored: the same key succeeds after a top-up', async () => {
    const c = await createCustomer(a.app, {})
    const poor = await post(a, c.auth, 'k-topup', sendBody())
    assert.equal(poor.statusCode, 402)
    await a.app.inject({
      method: 'POST',
      url: `/v1/admin/customers/${c.id}/credits`,
      headers: adminHeaders,
      payload: { amount: '1.00' },
    })
    assert.equal((await post(a, c.auth, 'k-topup', sendBody())).statusCode, 202)
  })

  it('admin credits with an Idempotency-Key are applied once', async () => {
    const c = await createCustomer(a.app, {})
    const credit = (t: TestApp) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/admin/customers/${c.id}/credits`,
        headers: { ...adminHeaders, 'idempotency-key': 'inv-77' },
        payload: { amount: '5.00', reference: 'inv-77' },
      })
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => credit(i % 2 ? a : b)))
    assert.deepEqual(new Set(results.map((r) => r.statusCode)), new Set([201]))
    assert.equal(new Set(results.map((r) => r.body)).size, 1)
    const bal = await a.app.inject({ method: 'GET', url: '/v1/balance', headers: c.auth })
    assert.equal(bal.json().balance.amount, '5.0000')
  })
})

// Invariant 5: a key sees only its customer's data; other tenants' ids are 404.
describe('tenant isolation', () => {
  let pg: FreshDatabase
  let t: TestApp
  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  it('customer B gets 404 for A’s messages and never sees A’s data in lists or balance', async () => {
    const A = await createCustomer(t.app, { name: 'A', credit: '5.00' })
    const B = await createCustomer(t.app, { name: 'B', credit: '1.00' })
    const sent = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: A.auth,
      payload: sendBody({ client_reference: 'a-secret-ref' }),
    })
    assert.equal(sent.statusCode, 202)
    const id = sent.json().id as string

    const own = await t.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: A.auth })
    assert.equal(own.statusCode, 200)
    assert.equal(own.json().events[0].status, 'queued')

    const other = await t.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: B.auth })
    assert.equal(other.statusCode, 404)
    assert.equal(other.json().error.code, 'not_found')

    for (const q of ['', '?client_reference=a-secret-ref', '?to=%2B14155550123', '?status=queued']) {
      const list = await t.app.inject({ method: 'GET', url: `/v1/messages${q}`, headers: B.auth })
      assert.equal(list.statusCode, 200)
      assert.deepEqual(list.json().data, [], `B's list${q} must be empty`)
      const mine = await t.app.inject({ method: 'GET', url: `/v1/messages${q}`, headers: A.auth })
      assert.deepEqual(
        mine.json().data.map((m: { id: string }) => m.id),
        [id],
      )
    }
    const bal = await t.app.inject({ method: 'GET', url: '/v1/balance', headers: B.auth })
    assert.equal(bal.json().balance.amount, '1.0000')
    // A customer_id smuggled into the body is not a field; it cannot redirect the charge.
    const smuggle = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: B.auth,
      payload: sendBody({ customer_id: A.id }),
    })
    assert.equal(smuggle.statusCode, 400)
  })

  it('lists paginate with a cursor, newest first, without gaps or repeats', async () => {
    const C = await createCustomer(t.app, { name: 'C', credit: '5.00' })
    const ids: string[] = []
    for (let i = 0; i < 7; i++) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: C.auth,
        payload: sendBody(),
      })
      ids.push(r.json().id)
    }
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const url: string = `/v1/messages?limit=3${cursor ? `&cursor=${cursor}` : ''}`
      const page = await t.app.inject({ method: 'GET', url, headers: C.auth })
      const body = page.json() as { data: { id: string }[]; has_more: boolean; next_cursor: string | null }
      seen.push(...body.data.map((m) => m.id))
      cursor = body.has_more ? body.next_cursor : null
    } while (cursor)
    assert.deepEqual(seen, [...ids].reverse())
  })

  it('a revoked key is refused at once', async () => {
    const D = await createCustomer(t.app, { name: 'D', credit: '1.00' })
    const keys = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/customers/${D.id}/api_keys`,
      headers: adminHeaders,
      payload: {},
    })
    assert.equal(keys.statusCode, 201)
    const second = { authorization: `Bearer ${keys.json().api_key}` }
    assert.equal((await t.app.inject({ method: 'GET', url: '/v1/balance', headers: second })).statusCode, 200)
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/v1/admin/customers/${D.id}/api_keys/${keys.json().id}`,
      headers: adminHeaders,
    })
    assert.equal(revoke.statusCode, 200)
    assert.equal((await t.app.inject({ method: 'GET', url: '/v1/balance', headers: second })).statusCode, 401)
    assert.equal((await t.app.inject({ method: 'GET', url: '/v1/balance', headers: D.auth })).statusCode, 200)
  })

  it('an IP allow-list refuses other addresses with 403 ip_not_allowed', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/customers',
      headers: adminHeaders,
      payload: { name: 'E', allowed_ips: ['10.1.2.0/24'] },
    })
    const auth = { authorization: `Bearer ${res.json().api_key}` }
    const denied = await t.app.inject({
      method: 'GET',
      url: '/v1/balance',
      headers: auth,
      remoteAddress: '192.0.2.7',
    })
    assert.equal(denied.statusCode, 403)
    assert.equal(denied.json().error.code, 'ip_not_allowed')
    const allowed = await t.app.inject({
      method: 'GET',
      url: '/v1/balance',
      headers: auth,
      remoteAddress: '10.1.2.9',
    })
    assert.equal(allowed.statusCode, 200)
  })
})
