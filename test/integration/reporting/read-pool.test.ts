// DATABASE_READ_URL: message lists, usage and reports read from the read pool; sends and single
// messages stay on the primary.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { openReadDb } from '../../../src/cli/runtime.ts'
import { loadConfig } from '../../../src/config/config.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import {
  ADMIN_TOKEN,
  createCustomer,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

/** A pool that records the statements it ran. */
function counting(db: Db): Db & { seen: string[] } {
  const seen: string[] = []
  return {
    kind: db.kind,
    seen,
    query: (sql, params, opts) => {
      seen.push(sql)
      return db.query(sql, params, opts)
    },
    exec: (sql) => {
      seen.push(sql)
      return db.exec(sql)
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  } as Db & { seen: string[] }
}

describe('read pool (DATABASE_READ_URL)', () => {
  let fresh: FreshDatabase
  let t: TestApp
  let read: Db & { seen: string[] }
  let acme: TestCustomer
  before(async () => {
    fresh = await freshDatabase()
    read = counting(createPostgresDb({ url: fresh.url, poolSize: 2 }))
    t = await startApp(fresh.url, { deps: { readDb: read } })
    await setRates(t.app)
    acme = await createCustomer(t.app, { credit: '10.00' })
  })
  after(async () => {
    await t?.close()
    await read?.close()
    await fresh?.drop()
  })

  it('openReadDb opens a pool only when DATABASE_READ_URL is set', async () => {
    assert.equal(openReadDb(loadConfig({}), 'x'), undefined)
    const db = openReadDb(loadConfig({ DATABASE_READ_URL: fresh.url }), 'x')
    assert.ok(db)
    assert.equal((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1)
    await db.close()
  })

  it('lists, usage and reports go to the read pool; a send does not', async () => {
    const send = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: acme.auth,
      payload: { to: '+14155550123', from: 'ACME', body: 'hi' },
    })
    assert.equal(send.statusCode, 202, send.body)
    assert.equal(read.seen.length, 0, 'a send reads nothing from the replica')
    const get = async (url: string, headers: Record<string, string>) => {
      const before = read.seen.length
      const res = await t.app.inject({ method: 'GET', url, headers })
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
      return read.seen.slice(before)
    }
    assert.ok((await get('/v1/messages', acme.auth)).some((s) => /FROM messages/.test(s)))
    assert.ok((await get('/v1/usage', acme.auth)).some((s) => /FROM usage_day/.test(s)))
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
    assert.ok((await get('/v1/admin/reports/customers', admin)).some((s) => /FROM usage_/.test(s)))
    assert.ok((await get('/v1/admin/reports/carriers', admin)).some((s) => /message_events/.test(s)))
    const before = read.seen.length
    await t.app.inject({ method: 'GET', url: `/v1/messages/${send.json().id}`, headers: acme.auth })
    assert.equal(read.seen.length, before, 'a single message reads the primary (no replica lag after a send)')
  })
})
