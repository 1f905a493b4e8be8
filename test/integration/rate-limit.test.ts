import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRedisRateLimiter } from '../../src/limits/redis-rate-limiter.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

describe('per-customer rate limit', () => {
  let pg: FreshDatabase
  const apps: TestApp[] = []
  before(async () => {
    pg = await freshDatabase()
  })
  after(async () => {
    for (const t of apps) await t.close()
    await pg?.drop()
  })

  it('answers 429 with Retry-After and X-RateLimit-* past the customer rate (in-process)', async () => {
    const t = await startApp(pg.url)
    apps.push(t)
    await setRates(t.app)
    const c = await createCustomer(t.app, { credit: '10.00', rateLimitMps: 5 })
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.app.inject({ method: 'POST', url: '/v1/messages', headers: c.auth, payload: sendBody() }),
      ),
    )
    const ok = results.filter((r) => r.statusCode === 202)
    const limited = results.filter((r) => r.statusCode === 429)
    // Burst is one second of rate; a token may refill while the 12 run, hence 5 or 6.
    assert.ok(ok.length >= 5 && ok.length <= 6, `accepted ${ok.length}`)
    assert.equal(ok.length + limited.length, 12)
    const r = limited[0]
    assert.ok(r)
    assert.equal(r.json().error.code, 'rate_limited')
    assert.ok(Number(r.headers['retry-after']) >= 1)
    assert.equal(r.headers['x-ratelimit-limit'], '5')
    assert.equal(r.headers['x-ratelimit-remaining'], '0')
    assert.ok(Number(r.headers['x-ratelimit-reset']) >= 1)
    assert.equal(ok[0]?.headers['x-ratelimit-limit'], '5')
    // Rate-limited requests changed nothing: only the accepted ones were charged.
    const { rows } = await t.db.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM messages WHERE customer_id = $1',
      [c.id],
    )
    assert.equal(Number(rows[0]?.n), ok.length)
  })

  it('is shared across api instances through Redis', async () => {
    const prefix = `smsgw:test:${Date.now()}:`
    const a = await startApp(pg.url, { rateLimiter: createRedisRateLimiter(REDIS_URL, prefix) })
    const b = await startApp(pg.url, { rateLimiter: createRedisRateLimiter(REDIS_URL, prefix) })
    apps.push(a, b)
    await setRates(a.app)
    const c = await createCustomer(a.app, { credit: '10.00', rateLimitMps: 10 })
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b).app.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: c.auth,
          payload: sendBody(),
        }),
      ),
    )
    const ok = results.filter((r) => r.statusCode === 202).length
    // Two in-process limiters would let ~20 through; one shared bucket lets ~10.
    assert.ok(ok >= 10 && ok <= 12, `accepted ${ok} of 30 across two instances`)
    assert.equal(results.filter((r) => r.statusCode === 429).length, 30 - ok)
  })
})
