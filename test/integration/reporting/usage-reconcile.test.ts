// The usage_matches_ledger reconcile check: usage cost = charges − refunds per customer per day.
// Charges come from the real accept path; faults are planted in the rollups and the ledger.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { acceptBatch } from '../../../src/billing/accept-batch.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { reconcile } from '../../../src/reconcile/reconcile.ts'
import { usageMatchesLedger } from '../../../src/reconcile/usage-checks.ts'
import { rebuildRollups } from '../../../src/reporting/rollups.ts'
import { acceptRequest, fundedCustomer, renderStub } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { applyChanges, type GenMessage, idAt, partitionsFor } from './traffic.ts'

const DAY = 86_400_000

describe('reconcile: usage matches the ledger', () => {
  let fresh: FreshDatabase
  let db: Db
  let customer: string
  let messages: GenMessage[]
  const start = Date.now() - 3 * 3_600_000

  before(async () => {
    fresh = await freshDatabase()
    db = createPostgresDb({ url: fresh.url, poolSize: 4 })
    await partitionsFor(db, start - DAY, 2)
    customer = await fundedCustomer(db)
    // Accepted through the real accept path (charges in the ledger), three hours ago.
    const reqs = [0, 1, 2].map((i) => {
      const r = acceptRequest(customer, { priceMicros: 7900 * (i + 1) })
      r.message.id = idAt(start + i * 1000)
      r.message.createdAt = new Date(start + i * 1000)
      return r
    })
    await db.transaction((tx) => acceptBatch(tx, reqs, renderStub))
    messages = reqs.map((r) => ({
      id: r.message.id,
      createdAt: r.message.createdAt.getTime(),
      customerId: customer,
      country: 'US',
      priority: 'normal',
      segments: 1,
      priceMicros: r.message.priceMicros,
    }))
    await rebuildRollups(db, start - DAY, Date.now())
    // As a running rollup role would have it: swept up to now.
    await db.query(`UPDATE usage_sweep_position SET swept_to = now()`)
  })
  after(async () => {
    await db?.close()
    await fresh?.drop()
  })

  it('compares only what the rollup role has swept', async () => {
    await db.query(`UPDATE usage_sweep_position SET swept_to = $1`, [new Date(start - 60_000)])
    await db.query('UPDATE usage_day SET cost_micros = cost_micros + 1 WHERE customer_id = $1', [customer])
    const check = await usageMatchesLedger(db)
    assert.equal(check.ok, true, check.detail)
    assert.match(check.detail, new RegExp(`up to ${new Date(start - 70_000).toISOString()} compared`))
    await db.query(`UPDATE usage_sweep_position SET swept_to = now()`)
    assert.equal((await usageMatchesLedger(db)).ok, false)
    await rebuildRollups(db, start - 60_000, Date.now())
  })

  it('passes on rollups rebuilt from the log, and is part of smsgw reconcile', async () => {
    const check = await usageMatchesLedger(db)
    assert.equal(check.ok, true, check.detail)
    const report = await reconcile({ db })
    assert.equal(report.checks.find((c) => c.name === 'usage_matches_ledger')?.ok, true)
  })

  it('fails on a refund the rollups missed, passes once its bucket is recomputed', async () => {
    const m = messages[1] as GenMessage
    // A refund recorded 2 minutes ago (past the freshness allowance) that no rollup pass saw.
    await applyChanges(db, [{ message: m, status: 'failed', refund: true }], new Date(Date.now() - 120_000))
    const check = await usageMatchesLedger(db)
    assert.equal(check.ok, false)
    assert.match(check.detail, /1 customer-days whose usage cost ≠ charges − refunds/)
    assert.equal(check.samples[0], `${customer} ${new Date(start).toISOString().slice(0, 10)}`)
    await rebuildRollups(db, start - 60_000, Date.now())
    assert.equal((await usageMatchesLedger(db)).ok, true)
  })

  it('fails on a planted fault in the rollups (a micro-unit more, a day row gone)', async () => {
    await db.query('UPDATE usage_day SET cost_micros = cost_micros + 1 WHERE customer_id = $1', [customer])
    const check = await usageMatchesLedger(db)
    assert.equal(check.ok, false)
    assert.equal(check.found, 1)
    await db.query('DELETE FROM usage_day WHERE customer_id = $1', [customer])
    assert.match((await usageMatchesLedger(db)).detail, /customer-days charged with no usage/)
    await rebuildRollups(db, start - 60_000, Date.now())
    assert.equal((await usageMatchesLedger(db)).ok, true)
  })

  it('skips archived days and says so', async () => {
    await db.query('UPDATE usage_day SET cost_micros = cost_micros + 1 WHERE customer_id = $1', [customer])
    const day = new Date(start).toISOString().slice(0, 10)
    await db.query(
      `INSERT INTO archived_days (day, tables, rows, files) VALUES ($1, '{messages}', 3, '{}')`,
      [day],
    )
    const check = await usageMatchesLedger(db)
    assert.equal(check.ok, true)
    assert.match(check.detail, new RegExp(`1 archived days skipped \\(${day} … ${day}\\)`))
    await db.query('DELETE FROM archived_days')
    await rebuildRollups(db, start - 60_000, Date.now())
  })

  it('a refund within the freshness allowance is not yet a failure', async () => {
    const m = messages[2] as GenMessage
    await applyChanges(db, [{ message: m, status: 'expired', refund: true }])
    assert.equal((await usageMatchesLedger(db)).ok, true)
  })
})
