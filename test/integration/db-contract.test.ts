import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { creditCustomer } from '../../src/accounts/credits.ts'
import { insertCustomer } from '../../src/accounts/customers.ts'
import { acceptBatch } from '../../src/billing/accept-batch.ts'
import { readRates, replaceRates } from '../../src/billing/rates.ts'
import type { Db } from '../../src/db/db.ts'
import { loadMigrations, migrate, SchemaTooNewError } from '../../src/db/migrate.ts'
import { partitionName } from '../../src/db/partitions.ts'
import { createPgliteDb } from '../../src/db/pglite.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { formatAmount } from '../../src/domain/money.ts'
import { runMaintenance } from '../../src/maintenance/maintenance.ts'
import { acceptRequest, renderStub } from '../helpers/messages.ts'
import { emptyDatabase, type FreshDatabase } from '../helpers/pg.ts'

const render = renderStub
const request = (customerId: string, priceMicros: number, idem?: string) =>
  acceptRequest(customerId, { priceMicros, idempotencyKey: idem })

/** The same data-layer contract, run against every adapter. */
function contract(name: string, open: () => Promise<{ db: Db; close: () => Promise<void> }>) {
  describe(`data layer contract: ${name}`, () => {
    let db: Db
    let close: () => Promise<void>
    before(async () => {
      ;({ db, close } = await open())
      await migrate(db)
      await runMaintenance(db)
    })
    after(async () => close?.())

    it('migrates once; a second run applies nothing', async () => {
      assert.deepEqual(await migrate(db), { applied: [] })
    })

    it('creates daily partitions from yesterday to 7 days ahead', async () => {
      const { rows } = await db.query<{ relname: string }>(
        "SELECT relname FROM pg_class WHERE relname LIKE 'messages_p%'",
      )
      const names = new Set(rows.map((r) => r.relname))
      for (let d = -1; d <= 7; d++) {
        const day = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + d * 86_400_000)
        assert.ok(names.has(partitionName('messages', day)), `missing partition for day ${d}`)
      }
    })

    it('accept batch: k of n in arrival order, exact balances, rows in every table', async () => {
      const c = await insertCustomer(db, { name: 'x', tier: 'standard', rateLimitMps: 10, currency: 'USD' })
      await db.transaction((tx) => creditCustomer(tx, c.id, 30_000, 'seed'))
      const reqs = [
        request(c.id, 7900),
        request(c.id, 7900),
        request(c.id, 7900),
        request(c.id, 7900),
        request(c.id, 6300),
      ]
      const out = await db.transaction((tx) => acceptBatch(tx, reqs, render))
      assert.deepEqual(
        out.map((o) => o.kind),
        ['accepted', 'accepted', 'accepted', 'insufficient_balance', 'accepted'],
      )
      const { rows } = await db.query<{ balance: string; ledger: string; messages: string; outbox: string }>(
        `SELECT balance::text,
           (SELECT sum(amount) FROM ledger WHERE customer_id = $1)::text AS ledger,
           (SELECT count(*) FROM messages WHERE customer_id = $1)::text AS messages,
           (SELECT count(*) FROM outbox WHERE customer_id = $1)::text AS outbox
         FROM customers WHERE id = $1`,
        [c.id],
      )
      assert.deepEqual(rows[0], { balance: '0', ledger: '0', messages: '4', outbox: '4' })
    })

    it('idempotent requests replay the stored response; a different hash is refused', async () => {
      const c = await insertCustomer(db, { name: 'y', tier: 'standard', rateLimitMps: 10, currency: 'USD' })
      await db.transaction((tx) => creditCustomer(tx, c.id, 100_000, null))
      const first = await db.transaction((tx) =>
        acceptBatch(tx, [request(c.id, 1000, 'k'), request(c.id, 1000, 'k')], render),
      )
      assert.equal(first[0]?.kind, 'accepted')
      assert.equal(first[1]?.kind, 'replayed')
      const other = { ...request(c.id, 1000, 'k'), idempotency: { key: 'k', requestHash: 'h2' } }
      const second = await db.transaction((tx) => acceptBatch(tx, [request(c.id, 1000, 'k'), other], render))
      assert.deepEqual(
        second.map((o) => o.kind),
        ['replayed', 'idempotency_key_reused'],
      )
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM ledger WHERE customer_id = $1 AND kind = 'charge'",
        [c.id],
      )
      assert.equal(rows[0]?.n, '1')
    })

    it('the ledger is append-only and charged message fields are immutable', async () => {
      await assert.rejects(db.query('UPDATE ledger SET amount = amount + 1'), /append-only/)
      await assert.rejects(db.query('DELETE FROM ledger'), /append-only/)
      await assert.rejects(db.query('UPDATE messages SET price_micros = 0'), /immutable/)
      // The guard fires only on updates naming a guarded column (migration 0023): each still does.
      for (const set of [
        "id = '00000000-0000-7000-8000-000000000000'",
        "created_at = created_at + interval '1 millisecond'",
        "customer_id = '00000000-0000-4000-8000-000000000000'",
        "to_number = to_number || '1'",
        "from_sender = from_sender || 'x'",
        'segments = segments + 1',
        "currency = 'XXX'",
        "priority = 'bulk', status = 'sent'",
      ])
        await assert.rejects(db.query(`UPDATE messages SET ${set}`), /immutable/, set)
      await assert.rejects(db.query('DELETE FROM messages'), /append-only/)
      const { rowCount } = await db.query("UPDATE messages SET status = 'sent', status_updated_at = now()")
      assert.ok(rowCount > 0, 'status is a projection and may move')
      await assert.rejects(db.query('UPDATE customers SET balance = -1'), /check/i)
    })

    it('rate tables are replaced whole and read back exactly', async () => {
      await replaceRates(db, { currency: 'USD', defaultMicros: 10_000, countries: { US: 7900, GB: 35_000 } })
      await replaceRates(db, { currency: 'USD', defaultMicros: null, countries: { US: 8000 } })
      assert.deepEqual(await readRates(db, 'USD'), {
        currency: 'USD',
        defaultMicros: null,
        countries: { US: 8000 },
      })
    })

    it('smsgw_format_amount formats exactly as formatAmount (replayed bodies are byte-identical)', async () => {
      const values = [
        0, 1, -1, 7900, 12_345, 117_300_000, 999_999, 1_000_000, -5_000_000, 123_456_789_012, 10_000,
      ]
      for (let i = 0; i < 500; i++)
        values.push(Math.floor((Math.random() - 0.2) * 10 ** (1 + Math.floor(Math.random() * 13))))
      const { rows } = await db.query<{ v: string; f: string }>(
        'SELECT v::text, smsgw_format_amount(v) AS f FROM unnest($1::bigint[]) AS v',
        [values.map(String)],
      )
      for (const r of rows) assert.equal(r.f, formatAmount(Number(r.v)), `value ${r.v}`)
    })

    it('refuses a database migrated by newer code', async () => {
      await db.query("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')")
      try {
        await assert.rejects(migrate(db), SchemaTooNewError)
      } finally {
        await db.query('DELETE FROM schema_migrations WHERE version = 9999')
      }
    })
  })
}

let pgDb: FreshDatabase | undefined
contract('PostgreSQL', async () => {
  pgDb = await emptyDatabase()
  const db = createPostgresDb({ url: pgDb.url, poolSize: 4 })
  return {
    db,
    close: async () => {
      await db.close()
      await pgDb?.drop()
    },
  }
})
contract('PGlite', async () => {
  const db = await createPgliteDb()
  return { db, close: () => db.close() }
})

describe('migrations under concurrency', () => {
  it('several processes migrating one empty database at once apply each migration once', async () => {
    const empty = await emptyDatabase()
    const dbs = Array.from({ length: 4 }, () => createPostgresDb({ url: empty.url, poolSize: 1 }))
    try {
      const results = await Promise.all(dbs.map((d) => migrate(d)))
      const applied = results.flatMap((r) => r.applied)
      assert.deepEqual(
        applied,
        loadMigrations().map((m) => m.name),
      )
    } finally {
      for (const d of dbs) await d.close()
      await empty.drop()
    }
  })
})
