import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { migrate } from '../../../src/db/migrate.ts'
import { createPgliteDb } from '../../../src/db/pglite.ts'
import { runMaintenance } from '../../../src/maintenance/maintenance.ts'
import { reconcile } from '../../../src/reconcile/reconcile.ts'
import { createCustomer, moneySnapshot, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { postBatch, usNumbers } from './helpers.ts'

// The embedded default (PGlite) runs the same SQL: a batch, its 402, a cancel and a batch cancel.
describe('batches and cancel on PGlite', () => {
  let db: Db
  let t: TestApp
  before(async () => {
    db = await createPgliteDb()
    await migrate(db)
    await runMaintenance(db)
    t = await startApp('unused', { db })
    await setRates(t.app)
  })
  after(async () => {
    await t?.close()
    await db?.close()
  })

  it('accepts, refuses with 402, cancels, and reconciles', async () => {
    const c = await createCustomer(t.app, { credit: '1.00' })
    const tos = usNumbers(100)
    const res = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'Hi ${name}',
      recipients: tos.map((to, i) => ({
        to: i === 7 ? 'bad' : to,
        params: { name: i === 9 ? 'Zoë 😀' : 'Ann' },
      })),
    })
    assert.equal(res.statusCode, 202, res.body)
    assert.equal(res.json().accepted, 99)
    assert.equal(res.json().price.amount, '0.7821') // 99 × 0.0079
    const before = await moneySnapshot(t.db)
    const refused = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'x',
      recipients: tos.map((to) => ({ to })),
    })
    assert.equal(refused.statusCode, 402)
    assert.deepEqual(await moneySnapshot(t.db), before)

    const { rows } = await t.db.query<{ id: string }>(
      'SELECT id::text FROM messages WHERE batch_id = $1 LIMIT 1',
      [res.json().id],
    )
    const one = await t.app.inject({
      method: 'POST',
      url: `/v1/messages/${rows[0]?.id}/cancel`,
      headers: c.auth,
    })
    assert.equal(one.statusCode, 200, one.body)
    const all = await t.app.inject({
      method: 'POST',
      url: `/v1/batches/${res.json().id}/cancel`,
      headers: c.auth,
    })
    assert.equal(all.statusCode, 200, all.body)
    assert.equal(all.json().canceled, 98)
    assert.deepEqual(all.json().counts, { canceled: 99 })
    assert.equal(all.json().status, 'completed')
    const bal = await t.app.inject({ method: 'GET', url: '/v1/balance', headers: c.auth })
    assert.equal(bal.json().balance.amount, '1.0000')
    const report = await reconcile({ db: t.db })
    assert.deepEqual(
      report.checks.filter((x) => !x.ok),
      [],
    )
  })
})
