import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pgLib from 'pg'
import { renderAccepted } from '../../src/api/render.ts'
import { acceptFast, FastPathDeclined } from '../../src/billing/accept-fast.ts'
import type { Db } from '../../src/db/db.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { acceptRequest, fundedCustomer } from '../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

async function pgClient(url: string): Promise<pgLib.Client> {
  const c = new pgLib.Client({ connectionString: url })
  await c.connect()
  return c
}

describe('accept fast path under concurrency', () => {
  let pg: FreshDatabase
  let db: Db
  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 8 })
  })
  after(async () => {
    await db?.close()
    await pg?.drop()
  })

  it('concurrent groups over shared customers never deadlock (rows are locked in id order)', async () => {
    const customers = await Promise.all(Array.from({ length: 20 }, () => fundedCustomer(db)))
    const outcomes = { ok: 0, declined: 0, failed: [] as string[] }
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 60; i++) {
          const reqs = Array.from({ length: 40 }, () =>
            acceptRequest(customers[Math.floor(Math.random() * customers.length)] as string),
          )
          try {
            await acceptFast(db, reqs, renderAccepted)
            outcomes.ok++
          } catch (err) {
            if (err instanceof FastPathDeclined) outcomes.declined++
            else outcomes.failed.push((err as Error).message)
          }
        }
      }),
    )
    assert.deepEqual(outcomes.failed, [])
    assert.equal(outcomes.declined, 0, 'funded customers never need the exact path')
    const { rows } = await db.query<{ bad: string }>(
      `SELECT count(*)::text AS bad FROM customers c
        WHERE c.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger l WHERE l.customer_id = c.id)`,
    )
    assert.equal(rows[0]?.bad, '0', 'sum(ledger) == balance for every customer')
  })

  it('declines (changes nothing) when a balance does not cover the whole group', async () => {
    const poor = await fundedCustomer(db, { credit: 10_000 })
    const reqs = [acceptRequest(poor), acceptRequest(poor)]
    await assert.rejects(acceptFast(db, reqs, renderAccepted), FastPathDeclined)
    const { rows } = await db.query<{ n: string; balance: string }>(
      'SELECT (SELECT count(*) FROM messages WHERE customer_id = $1)::text AS n, balance::text FROM customers WHERE id = $1',
      [poor],
    )
    assert.deepEqual(rows[0], { n: '0', balance: '10000' })
  })

  it('writes messages and outbox rows before it waits for a customer lock, and commits all once it has it', async () => {
    const hot = await fundedCustomer(db)
    const holder = await pgClient(pg.url)
    const outboxPages = async () =>
      Number((await db.query<{ n: string }>("SELECT pg_relation_size('outbox')::text AS n")).rows[0]?.n)
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT balance FROM customers WHERE id = $1 FOR UPDATE', [hot])
      const before = await outboxPages()
      // Enough rows to need a new outbox page whatever the free space left by earlier tests: more
      // bytes than the whole table has now (an outbox row takes more than 40 bytes).
      const count = 400 + Math.ceil(before / 40)
      const reqs = Array.from({ length: count }, () => acceptRequest(hot))
      const accepting = acceptFast(db, reqs, renderAccepted)
      // Wait until the statement waits on the row lock the holder has.
      for (let waited = 0; ; waited += 20) {
        const { rows } = await db.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event IN ('transactionid', 'tuple')
              AND query LIKE '%json_to_recordset%'`,
        )
        if (rows[0]?.n === '1') break
        assert.ok(waited < 10_000, 'the accept statement never waited for the customer lock')
        await new Promise((r) => setTimeout(r, 20))
      }
      // Uncommitted rows are invisible, but the pages they were written to are already there.
      assert.ok((await outboxPages()) > before, 'outbox rows were written before the lock was taken')
      await holder.query('COMMIT')
      const outcomes = await accepting
      assert.equal(outcomes.filter((o) => o.kind === 'accepted').length, count)
      const { rows } = await db.query<{ m: string; o: string; l: string }>(
        `SELECT (SELECT count(*) FROM messages WHERE customer_id = $1)::text AS m,
                (SELECT count(*) FROM outbox WHERE customer_id = $1)::text AS o,
                (SELECT count(*) FROM ledger WHERE customer_id = $1 AND kind = 'charge')::text AS l`,
        [hot],
      )
      assert.deepEqual(rows[0], { m: String(count), o: String(count), l: String(count) })
    } finally {
      await holder.end()
    }
  })

  it('declines a group whose balance is short before writing any row', async () => {
    const poor = await fundedCustomer(db, { credit: 10_000 })
    const rich = await fundedCustomer(db)
    const pages = async () =>
      Number((await db.query<{ n: string }>("SELECT pg_relation_size('outbox')::text AS n")).rows[0]?.n)
    const before = await pages()
    // 400 rows would extend the outbox if they were written and rolled back.
    const reqs = [
      ...Array.from({ length: 399 }, () => acceptRequest(rich)),
      acceptRequest(poor),
      acceptRequest(poor),
    ]
    await assert.rejects(acceptFast(db, reqs, renderAccepted), FastPathDeclined)
    assert.equal(await pages(), before, 'nothing was written for a group the snapshot already declines')
  })
})
