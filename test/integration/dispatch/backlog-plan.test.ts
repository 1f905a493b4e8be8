// Issue 12: the dispatcher's backlog query ran every pass and was planned every pass (~29 µs of
// PostgreSQL per delivered message in split runs). It is prepared, and PostgreSQL runs it on a
// generic plan.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { backlogByCustomer } from '../../../src/dispatch/outbox-claims.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('the dispatcher’s backlog query', () => {
  let database: FreshDatabase
  let db: Db
  before(async () => {
    database = await freshDatabase()
    // One connection: the prepared statement this test reads is the one the calls used.
    db = createPostgresDb({ url: database.url, poolSize: 1 })
  })
  after(async () => {
    await db?.close()
    await database?.drop()
  })

  it('is prepared once and runs on a generic plan, with the same answer every pass', async () => {
    const a = await fundedCustomer(db)
    const b = await fundedCustomer(db)
    await acceptMany(db, a, 30)
    await acceptMany(db, b, 5)
    for (let pass = 0; pass < 10; pass++) {
      const rows = await backlogByCustomer(db, 'normal', 20)
      assert.deepEqual(
        rows.map((r) => [r.customer_id, r.backlog]).sort(),
        [
          [a, 20],
          [b, 5],
        ].sort(),
      )
    }
    const { rows } = await db.query<{ generic_plans: number; custom_plans: number }>(
      `SELECT generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE name = 'outbox_backlog'`,
    )
    assert.equal(rows.length, 1, 'prepared')
    assert.equal((rows[0]?.generic_plans ?? 0) + (rows[0]?.custom_plans ?? 0), 10)
    assert.ok((rows[0]?.generic_plans ?? 0) >= 5, JSON.stringify(rows[0]))
  })
})
