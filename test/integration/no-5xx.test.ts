// Inputs that were answered with a 500 (or silently ignored) before: each must be a clear 4xx that
// changes nothing. Found by the issue-8 review; the fuzz test (api-fuzz.test.ts) looks for more.
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

const FAR_ID = 'ffffffff-ffff-7fff-bfff-ffffffffffff'
const cursorOf = (id: string) => Buffer.from(id).toString('base64url')

describe('client input never causes a 5xx', () => {
  let db: FreshDatabase
  let t: TestApp
  let c: TestCustomer

  before(async () => {
    db = await freshDatabase()
    t = await startApp(db.url)
    await setRates(t.app)
    c = await createCustomer(t.app, { credit: '10.00' })
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  const get = (url: string, headers: Record<string, string> = c.auth) =>
    t.app.inject({ method: 'GET', url, headers })
  const assertError = (
    res: { statusCode: number; body: string; json: () => unknown },
    status: number,
    code: string,
    param?: string,
  ) => {
    assert.equal(res.statusCode, status, res.body)
    const e = (res.json() as { error: { code: string; param?: string } }).error
    assert.equal(e.code, code, res.body)
    if (param !== undefined) assert.equal(e.param, param, res.body)
  }

  it('event ids and cursors beyond what PostgreSQL holds are 404/400, not 500', async () => {
    // A well-formed event id whose row id is past bigint's range (found by review: 500 22003).
    const huge = 'evt_01M8M6XMTM040FZZZZZZZZZZZZ'
    assertError(await get(`/v1/events/${huge}`), 404, 'not_found')
    const redeliver = await t.app.inject({
      method: 'POST',
      url: `/v1/events/${huge}/redeliver`,
      headers: c.auth,
    })
    assertError(redeliver, 404, 'not_found')
    // An events cursor past the year 9999, and a deliveries cursor past bigint.
    assertError(
      await get(`/v1/events?cursor=${cursorOf('99999999999999999999.1.1')}`),
      400,
      'invalid_request',
    )
    assertError(await get(`/v1/events?cursor=${cursorOf('9999999999999999999.1.1')}`), 400, 'invalid_request')
    const ep = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: c.auth,
      payload: { url: 'https://hooks.example.com/sms' },
    })
    assert.equal(ep.statusCode, 201, ep.body)
    const deliveries = await get(
      `/v1/webhook_endpoints/${ep.json().id}/deliveries?cursor=${cursorOf('9999999999999999999')}`,
    )
    assertError(deliveries, 400, 'invalid_request')
  })

  it('a UUIDv7 id whose time is past 9999 is a 404 on GET /v1/messages/{id}', async () => {
    assertError(await get(`/v1/messages/${FAR_ID}`), 404, 'not_found')
  })

  it('the same id as a list cursor is a 400 invalid cursor', async () => {
    assertError(await get(`/v1/messages?cursor=${cursorOf(FAR_ID)}`), 400, 'invalid_request', 'cursor')
  })

  for (const [param, value] of [
    ['created_after', '2024-06-30T23:59:60Z'],
    ['created_after', '0000-01-01T00:00:00Z'],
    ['created_before', '2024-06-30T23:59:60Z'],
    ['created_before', '10000-01-01T00:00:00Z'],
    ['created_after', '2023-02-29T00:00:00Z'],
    ['created_after', '1969-12-31T23:59:59Z'],
  ] as const) {
    it(`?${param}=${value} is a 400 naming ${param}`, async () => {
      assertError(
        await get(`/v1/messages?${param}=${encodeURIComponent(value)}`),
        400,
        'invalid_request',
        param,
      )
    })
  }

  it('NUL in a query string or path, or a lone surrogate in a body, is a 400 naming it (PostgreSQL text cannot hold NUL)', async () => {
    assertError(await get('/v1/messages?client_reference=a%00b'), 400, 'invalid_request', 'client_reference')
    assertError(await get('/v1/messages?from=AC%00ME'), 400, 'invalid_request', 'from')
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/customers/${c.id}`,
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: '{"name":"Acme \\ud800"}',
    })
    assertError(res, 400, 'invalid_request', 'name')
    assertError(await get('/v1/messages/a%00b'), 400, 'invalid_request', 'id')
  })

  it('router errors get the API error body: an over-long path param is a 404, bad percent-encoding a 400', async () => {
    const long = await get(`/v1/messages/${'9'.repeat(400)}`)
    assertError(long, 404, 'not_found')
    assert.ok(long.headers['x-request-id'], 'X-Request-Id is set')
    assertError(await get('/v1/messages/%E0%A4%A'), 400, 'invalid_request')
  })

  it('send_at with a leap second is a 400, not a message sent at once', async () => {
    const before0 = await moneySnapshot(t.db)
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    for (const sendAt of [`${tomorrow}T23:59:60Z`, '0000-01-01T00:00:00Z', `${tomorrow}T24:00:00Z`]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c.auth,
        payload: sendBody({ send_at: sendAt }),
      })
      assertError(res, 400, 'invalid_request', 'send_at')
    }
    assert.deepEqual(await moneySnapshot(t.db), before0)
  })

  it('allowed_ips entries that are not addresses are refused when a key is issued', async () => {
    for (const bad of ['1:2:3', '::1::2', '10.0.0.0/33', 'fe80::/129', '1.2.3.4/-1', '999.1.1.1']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/customers',
        headers: adminHeaders,
        payload: { name: 'ip', allowed_ips: [bad] },
      })
      assert.ok(res.statusCode === 400, `${bad}: ${res.statusCode} ${res.body}`)
      const issued = await t.app.inject({
        method: 'POST',
        url: `/v1/admin/customers/${c.id}/api_keys`,
        headers: adminHeaders,
        payload: { allowed_ips: ['127.0.0.1', bad] },
      })
      assertError(issued, 400, 'invalid_request')
      assert.match((issued.json() as { error: { param: string } }).error.param, /^allowed_ips/)
    }
    const ok = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/customers/${c.id}/api_keys`,
      headers: adminHeaders,
      payload: { allowed_ips: ['127.0.0.0/8', '::1', '2001:db8::/32'] },
    })
    assert.equal(ok.statusCode, 201, ok.body)
    const key = (ok.json() as { api_key: string }).api_key
    assert.equal((await get('/v1/balance', { authorization: `Bearer ${key}` })).statusCode, 200)
  })

  it('a key stored with an unparsable allowed_ips entry (legacy data) is refused, not a 500', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/customers/${c.id}/api_keys`,
      headers: adminHeaders,
      payload: { allowed_ips: ['10.9.9.9'] },
    })
    const { id, api_key } = res.json() as { id: string; api_key: string }
    await t.db.query(`UPDATE api_keys SET allowed_ips = ARRAY['1:2:3', '127.0.0.1/99'] WHERE id = $1`, [id])
    assertError(await get('/v1/balance', { authorization: `Bearer ${api_key}` }), 403, 'ip_not_allowed')
  })

  it('a credit past the maximum balance is a 400 on amount and leaves the balance as it was', async () => {
    const rich = await createCustomer(t.app, { name: 'rich' })
    const credit = (amount: string) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/admin/customers/${rich.id}/credits`,
        headers: adminHeaders,
        payload: { amount },
      })
    assert.equal((await credit('999999999.999999')).statusCode, 201)
    const before0 = await moneySnapshot(t.db)
    // Ten of these would be 10^16 micro-units, past 2^53: the first one already passes the bound.
    for (let i = 0; i < 10; i++) assertError(await credit('1000000000'), 400, 'invalid_request', 'amount')
    assertError(await credit('0.000002'), 400, 'invalid_request', 'amount')
    assert.deepEqual(await moneySnapshot(t.db), before0)
    assert.equal((await credit('0.000001')).statusCode, 201)
  })

  it('a rate above 1000 per segment is refused (a long message could not be priced exactly)', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: '/v1/admin/rates',
      headers: adminHeaders,
      payload: { currency: 'USD', default: '1000000000', countries: {} },
    })
    assertError(res, 400, 'invalid_request', 'default')
  })
})
