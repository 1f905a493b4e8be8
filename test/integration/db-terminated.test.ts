import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

// What a PostgreSQL restart does to a connection in the middle of a transaction: the server ends
// it between two statements. The process must survive (pg emits an 'error' event on the client,
// which nobody listened to and which ended workers in the chaos run) and the pool must recover.
describe('a connection terminated inside a transaction', () => {
  let pg: FreshDatabase
  before(async () => {
    pg = await freshDatabase()
  })
  after(async () => {
    await pg?.drop()
  })

  it('fails that transaction only; the process lives on and the next queries work', async () => {
    const db = createPostgresDb({ url: pg.url, poolSize: 2 })
    const killer = createPostgresDb({ url: pg.url, poolSize: 1 })
    try {
      const failed = await db
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          await killer.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
          // Idle in transaction while the server ends the connection: the 'error' event fires now.
          await new Promise((r) => setTimeout(r, 300))
          await tx.query('SELECT 1')
        })
        .then(
          () => false,
          () => true,
        )
      assert.ok(failed, 'the transaction on the dead connection fails')
      for (let i = 0; i < 4; i++) {
        const { rows } = await db.query<{ one: number }>('SELECT 1 AS one')
        assert.equal(rows[0]?.one, 1)
      }
    } finally {
      await db.close()
      await killer.close()
    }
  })
})
