import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { renderAccepted } from '../../src/api/render.ts'
import { acceptFast, FastPathDeclined } from '../../src/billing/accept-fast.ts'
import type { Db } from '../../src/db/db.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { acceptRequest, fundedCustomer } from '../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

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
})
