// GET /v1/messages with filters no index serves (status, from, batch_id) scans at most 31 days;
// `to` is served by the (customer_id, to_number, id) index and, like unfiltered lists, is not bounded.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { v7 as uuidv7 } from 'uuid'
import { ensurePartitions } from '../../src/db/partitions.ts'
import { createCustomer, startApp, type TestApp, type TestCustomer } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

const DAY = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()

describe('GET /v1/messages scans a bounded time range', () => {
  let db: FreshDatabase
  let t: TestApp
  let c: TestCustomer
  const now = Date.now()
  const oldId = uuidv7({ msecs: now - 35 * DAY })
  const recentId = uuidv7({ msecs: now - 2 * DAY })

  before(async () => {
    db = await freshDatabase()
    t = await startApp(db.url)
    c = await createCustomer(t.app)
    await ensurePartitions(t.db, now, 1, 40)
    for (const [id, ms] of [
      [oldId, now - 35 * DAY],
      [recentId, now - 2 * DAY],
    ] as const) {
      await t.db.query(
        `INSERT INTO messages (id, created_at, customer_id, to_number, from_sender, body, country, encoding,
           segments, price_micros, currency, priority, expires_at, status, status_updated_at)
         VALUES ($1, $2, $3, '+14155550123', 'ACME', 'x', 'US', 'GSM-7', 1, 0, 'USD', 'normal', $2, 'delivered', $2)`,
        [id, iso(ms), c.id],
      )
    }
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  const ids = async (query: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/messages?limit=1000&${query}`,
      headers: c.auth,
    })
    assert.equal(res.statusCode, 200, res.body)
    return (res.json() as { data: { id: string }[] }).data.map((m) => m.id)
  }

  it('unfiltered and `to` lists reach all the way back (index order, stop at the page)', async () => {
    assert.deepEqual(await ids(''), [recentId, oldId])
    assert.deepEqual(await ids('to=%2B14155550123'), [recentId, oldId])
  })

  it('`from` and `status` lists default to the last 31 days', async () => {
    assert.deepEqual(await ids('from=ACME'), [recentId])
    assert.deepEqual(await ids('status=delivered'), [recentId])
  })

  it('an explicit range of at most 31 days reaches older messages', async () => {
    assert.deepEqual(
      await ids(`from=ACME&created_after=${iso(now - 40 * DAY)}&created_before=${iso(now - 10 * DAY)}`),
      [oldId],
    )
  })

  it('a wider range with such a filter is a 400 on created_after', async () => {
    for (const q of [
      `status=delivered&created_after=${iso(now - 40 * DAY)}`,
      `from=ACME&created_after=${iso(now - 80 * DAY)}&created_before=${iso(now - 40 * DAY)}`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/messages?${q}`, headers: c.auth })
      assert.equal(res.statusCode, 400, res.body)
      assert.equal(res.json().error.param, 'created_after')
    }
  })
})
