// Issue 8 item 9: PUT /v1/admin/rates without `countries` (only the default) and
// PATCH /v1/admin/customers/{id} (name, rate_limit_mps, tier, allowed_ips, status), whose changes
// reach keys that are already in the auth cache.
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
  type TestCustomer,
} from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

describe('admin contract fixes', () => {
  let db: FreshDatabase
  let t: TestApp
  before(async () => {
    db = await freshDatabase()
    // A long cache TTL: only an explicit invalidation can make a change visible within the test.
    t = await startApp(db.url, { env: { SMSGW_AUTH_CACHE_MS: '600000' } })
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  const patch = (id: string, payload: unknown) =>
    t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/customers/${id}`,
      headers: adminHeaders,
      payload: payload as object,
    })
  const sendAs = (c: TestCustomer, over: Record<string, unknown> = {}) =>
    t.app.inject({ method: 'POST', url: '/v1/messages', headers: c.auth, payload: sendBody(over) })
  const balanceOf = (c: TestCustomer) => t.app.inject({ method: 'GET', url: '/v1/balance', headers: c.auth })

  it('PUT /v1/admin/rates without countries sets only the default', async () => {
    const put = await t.app.inject({
      method: 'PUT',
      url: '/v1/admin/rates',
      headers: adminHeaders,
      payload: { currency: 'USD', default: '0.0200' },
    })
    assert.equal(put.statusCode, 200, put.body)
    assert.deepEqual(put.json(), { currency: 'USD', default: '0.0200', countries: {} })
    const c = await createCustomer(t.app, { credit: '1.00' })
    const sent = await sendAs(c, { to: '+447911123456' })
    assert.equal(sent.statusCode, 202, sent.body)
    assert.equal(sent.json().price.amount, '0.0200')
    await setRates(t.app)
  })

  it('PATCH changes name, tier and rate_limit_mps, and the new limit applies to a cached key at once', async () => {
    const c = await createCustomer(t.app, { credit: '1.00', rateLimitMps: 1000 })
    const first = await sendAs(c)
    assert.equal(first.statusCode, 202)
    assert.equal(first.headers['x-ratelimit-limit'], '1000')
    const res = await patch(c.id, { name: 'Renamed Ltd', tier: 'gold', rate_limit_mps: 1 })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().name, 'Renamed Ltd')
    assert.equal(res.json().tier, 'gold')
    assert.equal(res.json().rate_limit_mps, 1)
    const got = await t.app.inject({
      method: 'GET',
      url: `/v1/admin/customers/${c.id}`,
      headers: adminHeaders,
    })
    assert.deepEqual(got.json(), res.json())
    const next = await sendAs(c)
    assert.equal(next.headers['x-ratelimit-limit'], '1')
  })

  it('a suspended customer’s keys get 403 forbidden (even cached ones), charge nothing, and work again once active', async () => {
    const c = await createCustomer(t.app, { credit: '1.00' })
    assert.equal((await balanceOf(c)).statusCode, 200) // the key is now cached
    const res = await patch(c.id, { status: 'suspended' })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().status, 'suspended')
    const before0 = await moneySnapshot(t.db)
    for (const r of [await balanceOf(c), await sendAs(c)]) {
      assert.equal(r.statusCode, 403, r.body)
      assert.equal(r.json().error.code, 'forbidden')
    }
    assert.deepEqual(await moneySnapshot(t.db), before0)
    assert.equal((await patch(c.id, { status: 'active' })).json().status, 'active')
    assert.equal((await sendAs(c)).statusCode, 202)
  })

  it('allowed_ips on the customer limits every key of it; null clears it', async () => {
    const c = await createCustomer(t.app, { credit: '1.00' })
    assert.equal((await balanceOf(c)).statusCode, 200)
    const res = await patch(c.id, { allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json().allowed_ips, ['10.0.0.0/8', '2001:db8::/32'])
    const refused = await balanceOf(c) // app.inject comes from 127.0.0.1
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.json().error.code, 'ip_not_allowed')
    const fromTen = await t.app.inject({
      method: 'GET',
      url: '/v1/balance',
      headers: c.auth,
      remoteAddress: '10.1.2.3',
    })
    assert.equal(fromTen.statusCode, 200, fromTen.body)
    assert.equal((await patch(c.id, { allowed_ips: null })).json().allowed_ips, null)
    assert.equal((await balanceOf(c)).statusCode, 200)
  })

  it('bad PATCHes are 4xx and change nothing', async () => {
    const c = await createCustomer(t.app, { name: 'steady' })
    const before0 = await t.db.query('SELECT * FROM customers ORDER BY id')
    const cases: [string, unknown, number, string][] = [
      [c.id, { status: 'closed' }, 400, 'status'],
      [c.id, { rate_limit_mps: 0 }, 400, 'rate_limit_mps'],
      [c.id, { tier: 'Gold Plus' }, 400, 'tier'],
      [c.id, { name: '' }, 400, 'name'],
      [c.id, { name: 'a\u0000b' }, 400, 'name'],
      [c.id, { allowed_ips: ['1:2:3'] }, 400, 'allowed_ips'],
      [c.id, { balance: '100.00' }, 400, 'balance'],
      [c.id, [], 400, ''],
      ['0190a6b4-0000-7000-8000-000000000000', { name: 'x' }, 404, ''],
      ['not-a-uuid', { name: 'x' }, 404, ''],
    ]
    for (const [id, body, status, param] of cases) {
      const res = await patch(id, body)
      assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`)
      if (param) assert.equal(res.json().error.param, param, res.body)
    }
    const customerKey = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/customers/${c.id}`,
      headers: (await createCustomer(t.app)).auth,
      payload: { status: 'suspended' },
    })
    assert.equal(customerKey.statusCode, 403)
    assert.deepEqual(
      (await t.db.query('SELECT * FROM customers ORDER BY id')).rows.slice(0, before0.rows.length),
      before0.rows,
    )
  })

  it('an empty PATCH changes nothing and answers the customer', async () => {
    const c = await createCustomer(t.app, { name: 'same' })
    const res = await patch(c.id, {})
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().name, 'same')
    assert.equal(res.json().status, 'active')
  })
})
