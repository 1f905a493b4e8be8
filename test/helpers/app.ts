import type { App } from '../../src/api/app.ts'
import { type AppDeps, buildApp } from '../../src/api/app.ts'
import { type Config, loadConfig } from '../../src/config/config.ts'
import type { Db } from '../../src/db/db.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { createMemoryRateLimiter, type RateLimiter } from '../../src/limits/rate-limiter.ts'

export const ADMIN_TOKEN = 'adm_test_token_0123456789abcdef'

export interface TestApp {
  app: App
  db: Db
  close(): Promise<void>
}

/** An api instance over its own pool: two of these on one database behave like two processes. */
export async function startApp(
  url: string,
  opts: { env?: Record<string, string>; rateLimiter?: RateLimiter; db?: Db; deps?: Partial<AppDeps> } = {},
): Promise<TestApp> {
  const config: Config = loadConfig({
    SMSGW_DEFAULT_RATE_LIMIT_MPS: '1000000',
    // Tests poll GETs freely; the read budget has its own tests.
    SMSGW_READ_RATE_LIMIT_RPS: '1000000',
    SMSGW_DB_POOL: '8',
    ...opts.env,
  })
  const db = opts.db ?? createPostgresDb({ url, poolSize: config.SMSGW_DB_POOL })
  const rateLimiter = opts.rateLimiter ?? createMemoryRateLimiter()
  const app = await buildApp({ config, db, adminToken: ADMIN_TOKEN, rateLimiter, ...opts.deps })
  await app.ready()
  return {
    app,
    db,
    async close() {
      await app.close()
      await rateLimiter.close()
      if (!opts.db) await db.close()
    },
  }
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

export const STANDARD_RATES = {
  currency: 'USD',
  default: '0.0100',
  countries: { US: '0.0079', GB: '0.0350' },
}

export async function setRates(app: App, rates: object = STANDARD_RATES): Promise<void> {
  const res = await app.inject({ method: 'PUT', url: '/v1/admin/rates', headers: admin, payload: rates })
  if (res.statusCode !== 200) throw new Error(`setRates: ${res.statusCode} ${res.body}`)
}

export interface TestCustomer {
  id: string
  apiKey: string
  auth: { authorization: string }
}

/** Creates a customer and credits it `credit` (a decimal string) if given. */
export async function createCustomer(
  app: App,
  opts: { name?: string; credit?: string; rateLimitMps?: number } = {},
): Promise<TestCustomer> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/admin/customers',
    headers: admin,
    payload: {
      name: opts.name ?? 'acme',
      ...(opts.rateLimitMps ? { rate_limit_mps: opts.rateLimitMps } : {}),
    },
  })
  if (res.statusCode !== 201) throw new Error(`createCustomer: ${res.statusCode} ${res.body}`)
  const c = res.json() as { id: string; api_key: string }
  if (opts.credit) await credit(app, c.id, opts.credit)
  return { id: c.id, apiKey: c.api_key, auth: { authorization: `Bearer ${c.api_key}` } }
}

export async function credit(app: App, customerId: string, amount: string): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/admin/customers/${customerId}/credits`,
    headers: admin,
    payload: { amount, reference: 'test' },
  })
  if (res.statusCode !== 201) throw new Error(`credit: ${res.statusCode} ${res.body}`)
}

export const adminHeaders = admin

export const sendBody = (over: Record<string, unknown> = {}) => ({
  to: '+14155550123',
  from: 'ACME',
  body: 'Your code is 481516',
  ...over,
})

/** Money invariants straight from the tables: sum(ledger) == balance, balance >= 0, charge per message. */
export async function moneySnapshot(db: Db) {
  const { rows } = await db.query<{ id: string; balance: string; ledger_sum: string | null }>(
    `SELECT c.id, c.balance::text AS balance, (SELECT sum(amount) FROM ledger l WHERE l.customer_id = c.id)::text AS ledger_sum
       FROM customers c ORDER BY c.id`,
  )
  const { rows: uncharged } = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM messages m
      WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.message_id = m.id AND l.kind = 'charge' AND l.amount = -m.price_micros)`,
  )
  const { rows: counts } = await db.query<{ messages: string; ledger: string; outbox: string; idem: string }>(
    `SELECT (SELECT count(*) FROM messages)::text AS messages, (SELECT count(*) FROM ledger)::text AS ledger,
            (SELECT count(*) FROM outbox)::text AS outbox, (SELECT count(*) FROM idempotency_keys)::text AS idem`,
  )
  return { customers: rows, unchargedMessages: Number(uncharged[0]?.n), counts: counts[0] }
}
