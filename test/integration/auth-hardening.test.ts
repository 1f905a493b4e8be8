import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Registry } from 'prom-client'
import { generateSecret } from '../../src/accounts/api-keys.ts'
import { createKeyCache, looksLikeApiKey } from '../../src/accounts/key-cache.ts'
import type { Bus } from '../../src/bus/bus.ts'
import { createNatsBus } from '../../src/bus/nats-bus.ts'
import { admin } from '../../src/cli/admin.ts'
import { startOpsServer } from '../../src/cli/ops-server.ts'
import { loadConfig } from '../../src/config/config.ts'
import type { Db } from '../../src/db/db.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { adminHeaders, createCustomer, sendBody, setRates, startApp, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'
import { eventually } from './bus/wait.ts'

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

/** A pool that counts the key lookups it runs (the only query that reads api_keys by hash). */
function countingDb(url: string): Db & { keyLookups: () => number } {
  const db = createPostgresDb({ url, poolSize: 4 })
  let n = 0
  return {
    ...db,
    kind: db.kind,
    query(sql, params, opts) {
      if (sql.includes('secret_hash = $1')) n++
      return db.query(sql, params, opts)
    },
    keyLookups: () => n,
  }
}

const randomKey = () => `sk_${randomBytes(32).toString('base64url')}`
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('auth hardening', () => {
  let pg: FreshDatabase
  const apps: TestApp[] = []
  const dbs: Db[] = []
  before(async () => {
    pg = await freshDatabase()
  })
  after(async () => {
    for (const t of apps) await t.close()
    for (const d of dbs) await d.close()
    await pg?.drop()
  })

  const appWithCounter = async (env: Record<string, string> = {}) => {
    const db = countingDb(pg.url)
    dbs.push(db)
    const t = await startApp(pg.url, { db, env })
    apps.push(t)
    await setRates(t.app)
    return { t, db }
  }

  it('keys have the shape the authenticator checks', () => {
    for (let i = 0; i < 200; i++) assert.ok(looksLikeApiKey(generateSecret()))
    for (const bad of [
      'sk_x',
      'sk_bench_0001',
      `${generateSecret()}x`,
      'x'.repeat(46),
      'adm_token_0123456789',
    ])
      assert.equal(looksLikeApiKey(bad), false, bad)
  })

  it('refuses a token not shaped like a key with 401 before any database work', async () => {
    const { t, db } = await appWithCounter()
    const before = db.keyLookups()
    for (const token of [
      'sk_x',
      'x'.repeat(300),
      `sk_${'A'.repeat(42)}`,
      'sk_bench_00000000000000000000000000000001',
    ]) {
      const customer = await t.app.inject({ url: '/v1/balance', headers: bearer(token) })
      assert.equal(customer.statusCode, 401, token)
      assert.equal(customer.json().error.code, 'unauthenticated')
      const admin = await t.app.inject({ url: '/v1/admin/customers', headers: bearer(token) })
      assert.equal(admin.statusCode, 401, token)
    }
    assert.equal(db.keyLookups(), before, 'no key lookup ran for malformed tokens')
  })

  it('100 concurrent requests with one uncached key run 1 lookup (single flight)', async () => {
    const { t, db } = await appWithCounter({ SMSGW_READ_RATE_LIMIT_RPS: '1000' })
    const c = await createCustomer(t.app, { credit: '1.00' })
    const before = db.keyLookups()
    const results = await Promise.all(
      Array.from({ length: 100 }, () => t.app.inject({ url: '/v1/balance', headers: c.auth })),
    )
    assert.deepEqual(new Set(results.map((r) => r.statusCode)), new Set([200]))
    assert.equal(db.keyLookups() - before, 1)
    // The same for a token that is no key: one lookup, then it is remembered.
    const unknown = randomKey()
    const misses = await Promise.all(
      Array.from({ length: 100 }, () => t.app.inject({ url: '/v1/balance', headers: bearer(unknown) })),
    )
    assert.deepEqual(new Set(misses.map((r) => r.statusCode)), new Set([401]))
    assert.equal(db.keyLookups() - before, 2)
  })

  it('a flood of unknown tokens does not evict valid keys (separate bounded caches)', async () => {
    const db = countingDb(pg.url)
    dbs.push(db)
    const t = await startApp(pg.url)
    apps.push(t)
    const c = await createCustomer(t.app)
    const cache = createKeyCache(db, { ttlMs: 60_000, maxKeys: 10, maxUnknown: 50 })
    assert.ok(await cache.lookup(c.apiKey))
    for (let i = 0; i < 500; i++) assert.equal(await cache.lookup(randomKey()), undefined)
    const lookups = db.keyLookups()
    assert.ok(await cache.lookup(c.apiKey), 'still valid')
    assert.equal(db.keyLookups(), lookups, 'the valid key was still cached')
    assert.deepEqual(cache.size(), { valid: 1, unknown: 50 })
  })

  it('a revoke evicts that key only, at once', async () => {
    const { t, db } = await appWithCounter({ SMSGW_AUTH_CACHE_MS: '600000' })
    const a = await createCustomer(t.app, { name: 'a', credit: '1.00' })
    const b = await createCustomer(t.app, { name: 'b', credit: '1.00' })
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/customers/${a.id}/api_keys`,
      headers: adminHeaders,
      payload: {},
    })
    assert.equal(res.statusCode, 201)
    const second = res.json() as { id: string; api_key: string }
    for (const key of [a.apiKey, second.api_key, b.apiKey]) {
      assert.equal((await t.app.inject({ url: '/v1/balance', headers: bearer(key) })).statusCode, 200)
    }
    const warm = db.keyLookups()
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/v1/admin/customers/${a.id}/api_keys/${second.id}`,
      headers: adminHeaders,
    })
    assert.equal(revoke.statusCode, 200)
    assert.equal(
      (await t.app.inject({ url: '/v1/balance', headers: bearer(second.api_key) })).statusCode,
      401,
    )
    const afterRevoked = db.keyLookups()
    assert.equal(afterRevoked, warm + 1, 'the revoked key was looked up again')
    for (const key of [a.apiKey, b.apiKey]) {
      assert.equal((await t.app.inject({ url: '/v1/balance', headers: bearer(key) })).statusCode, 200)
    }
    assert.equal(db.keyLookups(), afterRevoked, 'the other keys stayed cached')
  })

  it('reads are rate-limited per customer, apart from sends', async () => {
    const { t } = await appWithCounter({ SMSGW_READ_RATE_LIMIT_RPS: '3' })
    const c = await createCustomer(t.app, { name: 'reader', credit: '1.00', rateLimitMps: 100 })
    const other = await createCustomer(t.app, { name: 'other', credit: '1.00' })
    const reads = await Promise.all(
      Array.from({ length: 10 }, () => t.app.inject({ url: '/v1/messages', headers: c.auth })),
    )
    const ok = reads.filter((r) => r.statusCode === 200)
    const limited = reads.filter((r) => r.statusCode === 429)
    assert.ok(ok.length >= 3 && ok.length <= 4, `reads allowed: ${ok.length}`)
    assert.equal(ok.length + limited.length, 10)
    const r = limited[0]
    assert.ok(r)
    assert.equal(r.json().error.code, 'rate_limited')
    assert.ok(Number(r.headers['retry-after']) >= 1)
    assert.equal(r.headers['x-ratelimit-limit'], '3')
    assert.equal(r.headers['x-ratelimit-remaining'], '0')
    assert.ok(Number(r.headers['x-ratelimit-reset']) >= 1)
    // The send budget and other customers are untouched.
    const send = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody(),
    })
    assert.equal(send.statusCode, 202)
    assert.equal((await t.app.inject({ url: '/v1/balance', headers: other.auth })).statusCode, 200)
  })

  describe('TRUST_PROXY and IP allow-lists', () => {
    const keyFrom = async (t: TestApp, ip: string) => {
      const c = await createCustomer(t.app, { name: `ip-${ip}` })
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/admin/customers/${c.id}/api_keys`,
        headers: adminHeaders,
        payload: { allowed_ips: [ip] },
      })
      assert.equal(res.statusCode, 201, res.body)
      return (res.json() as { api_key: string }).api_key
    }
    const from = (key: string, xff: string) => ({ ...bearer(key), 'x-forwarded-for': xff })

    it('ignores X-Forwarded-For by default', async () => {
      const { t } = await appWithCounter()
      const key = await keyFrom(t, '203.0.113.7')
      const res = await t.app.inject({ url: '/v1/balance', headers: from(key, '203.0.113.7') })
      assert.equal(res.statusCode, 403)
      assert.equal(res.json().error.code, 'ip_not_allowed')
    })

    it('honours X-Forwarded-For from a trusted proxy (CIDR list or hop count)', async () => {
      for (const trust of ['127.0.0.0/8, 10.0.0.0/8', '1']) {
        const { t } = await appWithCounter({ TRUST_PROXY: trust })
        const key = await keyFrom(t, '203.0.113.7')
        const ok = await t.app.inject({ url: '/v1/balance', headers: from(key, '203.0.113.7') })
        assert.equal(ok.statusCode, 200, `${trust}: ${ok.body}`)
        const other = await t.app.inject({ url: '/v1/balance', headers: from(key, '198.51.100.1') })
        assert.equal(other.statusCode, 403, trust)
      }
    })
  })

  it('/metrics can demand a token, or be left to the ops port', async () => {
    const { t } = await appWithCounter({ SMSGW_METRICS_TOKEN: 'metrics-token-0123456789' })
    assert.equal((await t.app.inject({ url: '/metrics' })).statusCode, 401)
    assert.equal(
      (await t.app.inject({ url: '/metrics', headers: bearer('wrong-token-0123456789') })).statusCode,
      401,
    )
    const ok = await t.app.inject({ url: '/metrics', headers: bearer('metrics-token-0123456789') })
    assert.equal(ok.statusCode, 200)
    assert.match(ok.body, /smsgw_http_request_duration_seconds/)
    const off = await startApp(pg.url, { deps: { serveMetrics: false } })
    apps.push(off)
    assert.equal((await off.app.inject({ url: '/metrics' })).statusCode, 404)
    assert.equal((await off.app.inject({ url: '/health/live' })).statusCode, 200)
    // SMSGW_METRICS_PORT: the ops server, with the token too.
    const ops = await startOpsServer({
      db: t.db,
      registry: new Registry(),
      checks: {},
      port: 0,
      host: '127.0.0.1',
      metricsToken: 'metrics-token-0123456789',
    })
    try {
      assert.equal((await fetch(`${ops.address}/metrics`)).status, 401)
      const res = await fetch(`${ops.address}/metrics`, { headers: bearer('metrics-token-0123456789') })
      assert.equal(res.status, 200)
    } finally {
      await ops.app.close()
    }
  })
})

describe('revocation across api processes (NATS)', () => {
  let pg: FreshDatabase
  const id = randomBytes(6).toString('hex')
  const stream = `TEST_AUTH_${id}`
  const prefix = `test_${id}`
  const buses: Bus[] = []
  const apps: TestApp[] = []
  // Ten minutes of cache: only the broadcast can explain a refusal within the tests' deadlines.
  const env = { SMSGW_AUTH_CACHE_MS: '600000' }
  let a: TestApp
  let b: TestApp
  before(async () => {
    pg = await freshDatabase()
    for (let i = 0; i < 2; i++) {
      const bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: prefix })
      buses.push(bus)
      apps.push(await startApp(pg.url, { env, deps: { bus } }))
    }
    ;[a, b] = apps as [TestApp, TestApp]
  })
  after(async () => {
    for (const t of apps) await t.close()
    for (const bus of buses) await bus.close()
    const nc = await connect({ servers: NATS_URL })
    await (await jetstreamManager(nc)).streams.delete(stream)
    await nc.close()
    await pg?.drop()
  })

  /** A customer with a second key, both cached by both processes. */
  const warmKeys = async (name: string) => {
    const c = await createCustomer(a.app, { name })
    const issued = await a.app.inject({
      method: 'POST',
      url: `/v1/admin/customers/${c.id}/api_keys`,
      headers: adminHeaders,
      payload: {},
    })
    const key = issued.json() as { id: string; api_key: string }
    for (const t of apps) {
      for (const k of [key.api_key, c.apiKey]) {
        assert.equal((await t.app.inject({ url: '/v1/balance', headers: bearer(k) })).statusCode, 200)
      }
    }
    return { c, key }
  }
  const refusedBy = (t: TestApp, secret: string, what: string) =>
    eventually(
      async () => (await t.app.inject({ url: '/v1/balance', headers: bearer(secret) })).statusCode === 401,
      what,
      5_000,
    )

  it('a key revoked on one api process is refused by another at once, not after the cache TTL', async () => {
    const { c, key } = await warmKeys('api-revoke')
    const revoke = await a.app.inject({
      method: 'DELETE',
      url: `/v1/admin/customers/${c.id}/api_keys/${key.id}`,
      headers: adminHeaders,
    })
    assert.equal(revoke.statusCode, 200)
    await refusedBy(b, key.api_key, 'the other process to refuse the revoked key')
    assert.equal((await b.app.inject({ url: '/v1/balance', headers: c.auth })).statusCode, 200)
  })

  it('`smsgw admin keys revoke` reaches running api processes too', async () => {
    const { c, key } = await warmKeys('cli-revoke')
    const config = loadConfig({
      DATABASE_URL: pg.url,
      NATS_URL,
      SMSGW_NATS_STREAM: stream,
      SMSGW_NATS_PREFIX: prefix,
    })
    await admin(config, ['keys', 'revoke', c.id, key.id], () => {})
    for (const t of apps) await refusedBy(t, key.api_key, 'both processes to refuse the revoked key')
    assert.equal((await a.app.inject({ url: '/v1/balance', headers: c.auth })).statusCode, 200)
  })
})
