import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { generateSecret } from '../../src/accounts/api-keys.ts'
import { buildApp } from '../../src/api/app.ts'
import { createNatsBus } from '../../src/bus/nats-bus.ts'
import { loadConfig } from '../../src/config/config.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createPgliteDb } from '../../src/db/pglite.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { createMemoryRateLimiter } from '../../src/limits/rate-limiter.ts'
import { runMaintenance } from '../../src/maintenance/maintenance.ts'
import { ADMIN_TOKEN, createCustomer, sendBody, setRates, startApp, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'
import { waitFor } from '../helpers/wait.ts'
import { hasNatsServer, startPrivateNats } from './bus/nats-server.ts'

describe('operations endpoints', () => {
  let pg: FreshDatabase
  let t: TestApp
  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  it('live and ready are 200 with a reachable database; every response has X-Request-Id', async () => {
    const live = await t.app.inject({ url: '/health/live' })
    assert.equal(live.statusCode, 200)
    assert.match(String(live.headers['x-request-id']), /^req_/)
    const ready = await t.app.inject({ url: '/health/ready', headers: { 'x-request-id': 'client-chosen-1' } })
    assert.equal(ready.statusCode, 200)
    assert.equal(ready.headers['x-request-id'], 'client-chosen-1')
  })

  it('ready is 503 while NATS is down and 200 again once it is back', {
    skip: !hasNatsServer(),
  }, async () => {
    const nats = await startPrivateNats()
    const bus = await createNatsBus({ servers: nats.url, reconnectWaitMs: 100, publishTimeoutMs: 1000 })
    const app = await buildApp({
      config: loadConfig({}),
      db: t.db,
      adminToken: ADMIN_TOKEN,
      rateLimiter: createMemoryRateLimiter(),
      readiness: { bus: () => bus.healthy() },
    })
    const ready = async () => (await app.inject({ url: '/health/ready' })).statusCode
    try {
      assert.equal(await ready(), 200)
      await nats.kill()
      assert.equal(await ready(), 503)
      await nats.start()
      await waitFor(async () => (await ready()) === 200, 'ready again', 15_000, 100)
    } finally {
      await app.close()
      await bus.close()
      await nats.dispose()
    }
  })

  it('ready is 503 while the database is unreachable (live stays 200)', async () => {
    const dead = createPostgresDb({ url: 'postgres://postgres@127.0.0.1:1/nope', poolSize: 2 })
    const app = await buildApp({
      config: loadConfig({}),
      db: dead,
      adminToken: ADMIN_TOKEN,
      rateLimiter: createMemoryRateLimiter(),
    })
    try {
      assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 503)
      assert.equal((await app.inject({ url: '/health/live' })).statusCode, 200)
      // A request that needs the database gets 503 unavailable with Retry-After, not a 500.
      const res = await app.inject({
        method: 'GET',
        url: '/v1/balance',
        // Shaped like a key, so the lookup does reach the (dead) database.
        headers: { authorization: `Bearer ${generateSecret()}` },
      })
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().error.code, 'unavailable')
      assert.ok(res.headers['retry-after'])
    } finally {
      await app.close()
      await dead.close()
    }
  })

  it('/metrics exposes latency histogram, accepted/rejected counters and group sizes', async () => {
    await setRates(t.app)
    const c = await createCustomer(t.app, { credit: '1.00' })
    await t.app.inject({ method: 'POST', url: '/v1/messages', headers: c.auth, payload: sendBody() })
    await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody({ to: '+1234' }),
    })
    const text = (await t.app.inject({ url: '/metrics' })).body
    assert.match(
      text,
      /smsgw_http_request_duration_seconds_bucket\{.*route="\/v1\/messages".*status_code="202"/,
    )
    assert.match(text, /smsgw_messages_accepted_total\{priority="normal"\} 1/)
    assert.match(text, /smsgw_requests_rejected_total\{code="invalid_phone_number"\} 1/)
    assert.match(text, /smsgw_billing_group_size_count [1-9]/)
  })

  it('/openapi.json documents the routes from their schemas; /docs serves the UI', async () => {
    const spec = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    for (const p of [
      '/v1/messages',
      '/v1/messages/preview',
      '/v1/messages/{id}',
      '/v1/balance',
      '/v1/admin/customers',
      '/v1/admin/rates',
    ]) {
      assert.ok(spec.paths[p], `missing ${p}`)
    }
    assert.ok(spec.paths['/v1/messages']?.post)
    const docs = await t.app.inject({ url: '/docs' })
    assert.ok(docs.statusCode === 200 || docs.statusCode === 302)
  })
})

describe('logs', () => {
  it('never contain API secrets or full phone numbers', async () => {
    const pg = await freshDatabase()
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk))
        cb()
      },
    })
    const logger = pino({ level: 'trace' }, sink)
    const db = createPostgresDb({ url: pg.url, poolSize: 2 })
    const app = await buildApp({
      config: loadConfig({}),
      db,
      adminToken: ADMIN_TOKEN,
      rateLimiter: createMemoryRateLimiter(),
      logger,
    })
    try {
      await setRates(app)
      const c = await createCustomer(app, { credit: '1.00' })
      await app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c.auth,
        payload: sendBody({ to: '+14155550123' }),
      })
      await app.inject({ method: 'GET', url: '/v1/messages?to=%2B14155550123', headers: c.auth })
      await app.inject({ method: 'GET', url: '/v1/messages?to=+14155550123', headers: c.auth })
      // Spelled with dashes no run of digits is long: only leaving query values out entirely helps.
      await app.inject({ method: 'GET', url: '/v1/messages?to=%2B1-415-555-0123&limit=5', headers: c.auth })
      const all = lines.join('')
      assert.ok(!all.includes('555-0123'), 'dashed phone number in logs')
      assert.ok(all.includes('/v1/messages?to=…&limit=…'), 'the path and query keys are logged')
      assert.ok(lines.length > 4, 'request logs were written')
      assert.ok(!all.includes(c.apiKey), 'API key in logs')
      assert.ok(!all.includes(ADMIN_TOKEN), 'admin token in logs')
      assert.ok(!all.includes('4155550123'), 'full phone number in logs')
    } finally {
      await app.close()
      await db.close()
      await pg.drop()
    }
  })
})

describe('the API on the embedded PGlite adapter', () => {
  it('accepts, charges and reads back a message exactly as on PostgreSQL', async () => {
    const db = await createPgliteDb()
    await migrate(db)
    await runMaintenance(db)
    const t = await startApp('', { db })
    try {
      await setRates(t.app)
      const c = await createCustomer(t.app, { credit: (0.0079 * 20).toFixed(4) })
      const results = await Promise.all(
        Array.from({ length: 60 }, () =>
          t.app.inject({ method: 'POST', url: '/v1/messages', headers: c.auth, payload: sendBody() }),
        ),
      )
      assert.equal(results.filter((r) => r.statusCode === 202).length, 20)
      assert.equal(results.filter((r) => r.statusCode === 402).length, 40)
      const id = results.find((r) => r.statusCode === 202)?.json().id
      const got = await t.app.inject({ url: `/v1/messages/${id}`, headers: c.auth })
      assert.equal(got.json().status, 'queued')
      assert.equal(
        (await t.app.inject({ url: '/v1/balance', headers: c.auth })).json().balance.amount,
        '0.0000',
      )
    } finally {
      await t.close()
      await db.close()
    }
  })
})
