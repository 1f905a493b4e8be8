import { randomBytes } from 'node:crypto'
import type { Bus } from '../../src/bus/bus.ts'
import { signWebhook } from '../../src/carriers/webhook-auth.ts'
import type { Db, Queryable } from '../../src/db/db.ts'
import { setRates, startApp, type TestApp } from './app.ts'
import { type FreshDatabase, freshDatabase } from './pg.ts'
import { type Receiver, startReceiver } from './webhook-receiver.ts'

/**
 * An inject() request for a provider endpoint, signed as a carrier with `secret` would sign it
 * (Standard Webhooks, the `standardwebhooks` package). A string is sent as it is (raw bytes);
 * `at` back-dates the signature.
 */
export function signedPost(
  url: string,
  json: unknown,
  secret: string,
  opts: { at?: Date; ip?: string } = {},
) {
  const payload = typeof json === 'string' ? json : JSON.stringify(json)
  return {
    method: 'POST' as const,
    url,
    payload,
    headers: {
      'content-type': 'application/json',
      ...signWebhook(secret, `msg_${randomBytes(8).toString('hex')}`, payload, opts.at),
    },
    ...(opts.ip ? { remoteAddress: opts.ip } : {}),
  }
}

/** A Db that records every statement sent (with its parameters); a transaction's BEGIN and COMMIT count too. */
export function recordingDb(db: Db) {
  const seen: { sql: string; params: string }[] = []
  const count = { n: 0 }
  const recorded = (q: Queryable): Queryable => ({
    query: (sql, params, opts) => {
      count.n++
      seen.push({ sql, params: JSON.stringify(params ?? []) })
      return q.query(sql, params, opts)
    },
    exec: (sql) => {
      count.n++
      seen.push({ sql, params: '[]' })
      return q.exec(sql)
    },
  })
  const wrapped: Db = {
    ...recorded(db),
    kind: db.kind,
    transaction: (fn) => {
      count.n += 2
      return db.transaction((tx) => fn(recorded(tx)))
    },
    close: () => db.close(),
  }
  return { db: wrapped, seen, count }
}

export interface WebhookTestApp {
  pg: FreshDatabase
  t: TestApp
  rx: Receiver
  /** The key that seals endpoint secrets in the app (and opens them in the webhooks role). */
  key: Buffer
  close(): Promise<void>
}

/**
 * The webhook tests' common ground: a fresh database, the app on it with http receivers allowed
 * and its own sealing key (and `bus`, when given: the api then announces endpoint changes), rates
 * set, and a real receiver on 127.0.0.1. `close` undoes it all, whatever was started.
 */
export async function webhookTestApp(opts: { bus?: Bus } = {}): Promise<WebhookTestApp> {
  const key = randomBytes(32)
  const pg = await freshDatabase()
  const undo: (() => Promise<void>)[] = [() => pg.drop()]
  const close = async () => {
    for (const fn of undo.splice(0).reverse()) await fn()
  }
  try {
    const t = await startApp(pg.url, {
      env: { SMSGW_WEBHOOK_ALLOW_INSECURE: 'true' },
      deps: { webhookKey: () => key, ...(opts.bus ? { bus: opts.bus } : {}) },
    })
    undo.push(() => t.close())
    await setRates(t.app)
    const rx = await startReceiver()
    undo.push(() => rx.close())
    return { pg, t, rx, key, close }
  } catch (err) {
    await close()
    throw err
  }
}
