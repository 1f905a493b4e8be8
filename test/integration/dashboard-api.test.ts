// The dashboard's server side (issue 14): the page and its files are served from the package with
// a strict CSP; every data route wants the admin token in the Authorization header (a customer key
// or a token in the query string gets nothing); message search across customers; the metrics
// stream (SSE) of samples taken from the registry.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  ADMIN_TOKEN,
  adminHeaders,
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

describe('dashboard routes', () => {
  let db: FreshDatabase
  let t: TestApp
  let acme: TestCustomer
  let other: TestCustomer
  let messageId: string
  before(async () => {
    db = await freshDatabase()
    t = await startApp(db.url)
    await setRates(t.app)
    acme = await createCustomer(t.app, { name: 'Acme Dash', credit: '5.00' })
    other = await createCustomer(t.app, { name: 'Other', credit: '5.00' })
    const sent = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: acme.auth,
      payload: sendBody({ client_reference: 'dash-1' }),
    })
    assert.equal(sent.statusCode, 202, sent.body)
    messageId = sent.json().id
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  const get = (url: string, headers: Record<string, string> = adminHeaders) =>
    t.app.inject({ method: 'GET', url, headers })

  it('serves the page and its bundled files locally, with a CSP that allows no other origin', async () => {
    for (const url of ['/dashboard', '/dashboard/']) {
      const page = await get(url, {})
      assert.equal(page.statusCode, 200)
      assert.match(page.headers['content-type'] as string, /text\/html/)
      assert.match(page.body, /<script type="module" src="\/dashboard\/assets\/app\.js">/)
      const csp = page.headers['content-security-policy'] as string
      assert.match(csp, /default-src 'self'/)
      assert.match(csp, /script-src 'self'(;|$)/)
      assert.match(csp, /frame-ancestors 'none'/)
      assert.doesNotMatch(page.body, /https?:\/\//, 'no third-party URL in the page')
    }
    for (const [url, type] of [
      ['/dashboard/assets/app.js', /javascript/],
      ['/dashboard/assets/style.css', /css/],
      ['/dashboard/vendor/preact-htm.js', /javascript/],
      ['/dashboard/vendor/uplot.js', /javascript/],
      ['/dashboard/vendor/uplot.css', /css/],
    ] as const) {
      const res = await get(url, {})
      assert.equal(res.statusCode, 200, url)
      assert.match(res.headers['content-type'] as string, type, url)
    }
    assert.equal((await get('/dashboard/vendor/package.json', {})).statusCode, 404)
    assert.equal((await get('/dashboard/assets/../routes.ts', {})).statusCode, 404)
  })

  it('refuses every data route without the admin token in the Authorization header', async () => {
    const routes = [
      '/dashboard/api/session',
      '/dashboard/api/metrics',
      '/dashboard/api/metrics/stream',
      `/dashboard/api/messages?id=${messageId}`,
      `/dashboard/api/messages/${messageId}`,
      '/dashboard/api/customers?q=acme',
      `/dashboard/api/customers/${acme.id}/api_keys`,
    ]
    for (const url of routes) {
      assert.equal((await get(url, {})).statusCode, 401, url)
      assert.equal(
        (await get(`${url}${url.includes('?') ? '&' : '?'}token=${ADMIN_TOKEN}`, {})).statusCode,
        401,
      )
      assert.equal((await get(url, acme.auth)).statusCode, 403, `${url} with a customer key`)
    }
    assert.equal((await get('/dashboard/api/session')).statusCode, 200)
  })

  it('finds a message by id whatever its customer, with its timeline; and a customer’s by recipient', async () => {
    const byId = await get(`/dashboard/api/messages?id=${messageId.toUpperCase()}`)
    assert.equal(byId.statusCode, 200)
    assert.deepEqual(
      byId.json().data.map((m: { id: string; customer_id: string }) => [m.id, m.customer_id]),
      [[messageId, acme.id]],
    )
    const one = await get(`/dashboard/api/messages/${messageId}`)
    assert.equal(one.statusCode, 200)
    assert.equal(one.json().client_reference, 'dash-1')
    assert.equal(one.json().events[0].status, 'queued')

    const list = await get(
      `/dashboard/api/messages?customer_id=${acme.id}&to=${encodeURIComponent('+1 415-555-0123')}`,
    )
    assert.deepEqual(
      list.json().data.map((m: { id: string }) => m.id),
      [messageId],
    )
    const wrongCustomer = await get(`/dashboard/api/messages?customer_id=${other.id}`)
    assert.deepEqual(wrongCustomer.json().data, [])
    const delivered = await get(`/dashboard/api/messages?customer_id=${acme.id}&status=delivered`)
    assert.deepEqual(delivered.json().data, [])

    const unknown = await get('/dashboard/api/messages/01900000-0000-7000-8000-000000000000')
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.json().error.code, 'not_found')
    for (const [url, param] of [
      ['/dashboard/api/messages', 'customer_id'],
      ['/dashboard/api/messages?id=nope', 'id'],
      [`/dashboard/api/messages?customer_id=${acme.id}&status=bogus`, 'status'],
      [`/dashboard/api/messages?customer_id=${acme.id}&to=hello`, 'to'],
    ] as const) {
      const res = await get(url)
      assert.equal(res.statusCode, 400, url)
      assert.equal(res.json().error.code, 'invalid_request')
      assert.equal(res.json().error.param, param, url)
    }
  })

  it('searches customers by name (wildcards are literal) and lists a customer’s keys without secrets', async () => {
    const hits = await get('/dashboard/api/customers?q=acme%20d')
    assert.deepEqual(
      hits.json().data.map((c: { id: string }) => c.id),
      [acme.id],
    )
    assert.equal(hits.json().data[0].balance.amount.replace(/0+$/, ''), '4.9921')
    assert.deepEqual((await get('/dashboard/api/customers?q=%25')).json().data, [])
    for (const url of [
      '/dashboard/api/customers?q=%00',
      '/dashboard/api/customers',
      '/dashboard/api/customers?q=a&x=1',
    ])
      assert.equal((await get(url)).statusCode, 400, url)
    assert.equal((await get('/dashboard/api/customers/not-an-id/api_keys')).statusCode, 404)
    assert.deepEqual(
      (await get(`/dashboard/api/customers?q=${other.id}`)).json().data.map((c: { id: string }) => c.id),
      [other.id],
    )
    const keys = await get(`/dashboard/api/customers/${acme.id}/api_keys`)
    assert.equal(keys.statusCode, 200)
    assert.equal(keys.json().data.length, 1)
    assert.equal(keys.json().data[0].prefix, acme.apiKey.slice(0, 10))
    assert.ok(!keys.body.includes(acme.apiKey), 'no secret in the listing')
  })

  it('streams metrics samples (SSE) that count the accepted messages', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = t.app.server.address() as AddressInfo
    const events: { event: string; data: unknown }[] = []
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/dashboard/api/metrics/stream', headers: adminHeaders },
        (res) => {
          assert.equal(res.statusCode, 200)
          assert.match(res.headers['content-type'] as string, /text\/event-stream/)
          let buf = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            buf += chunk
            for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
              const block = buf.slice(0, cut)
              buf = buf.slice(cut + 2)
              const event = /^event: (.*)$/m.exec(block)?.[1] ?? ''
              events.push({ event, data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') })
              if (events.filter((e) => e.event === 'sample').length >= 2) {
                req.destroy()
                resolve()
              }
            }
          })
        },
      )
      req.on('error', (err) => (events.length ? resolve() : reject(err)))
      req.end()
    })
    assert.equal(events[0]?.event, 'history')
    const last = events.at(-1)?.data as { totals: { accepted: number }; t: number }
    assert.equal(last.totals.accepted, 1)
  })
})
