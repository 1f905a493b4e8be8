import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { v7 } from 'uuid'
import { acceptBatch } from '../../../src/billing/accept-batch.ts'
import { rebuildRollups } from '../../../src/reporting/rollups.ts'
import { createCustomer, setRates, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { acceptRequest, renderStub } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { reconcileJson } from './helpers.ts'

// `smsgw reconcile` checks that opt-outs were honoured: it passes with a message sent before the
// opt-out and the STOP confirmation sent after it, and fails on a message planted (past the
// screen) while the recipient was on the list.
describe('smsgw reconcile: opt_outs_honoured (PostgreSQL)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let c: TestCustomer
  const PHONE = '+14155550123'

  const plant = async (over: { clientReference?: string | null; agoMs?: number }) => {
    const req = acceptRequest(c.id)
    if (over.agoMs) {
      const at = Date.now() - over.agoMs
      req.message.id = v7({ msecs: at })
      req.message.createdAt = new Date(at)
    }
    req.message.to = PHONE
    req.message.clientReference = over.clientReference ?? null
    await t.db.transaction((tx) => acceptBatch(tx, [req], renderStub))
    return req.message.id
  }

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
    c = await createCustomer(t.app, { credit: '1.00' })
    // Sent an hour before the opt-out. Planted in the past, after the usage sweep has passed that
    // minute: its rollup is recomputed, as a real accept's would have been (between 00:00 and 01:00
    // UTC the hour before is another day, whose usage the reconcile then compares).
    await plant({ agoMs: 3_600_000 })
    await rebuildRollups(t.db, Date.now() - 3_660_000, Date.now())
    const opt = await t.app.inject({
      method: 'POST',
      url: '/v1/opt_outs',
      headers: c.auth,
      payload: { phone: PHONE },
    })
    assert.equal(opt.statusCode, 201)
    // The opt-out began a minute ago: past the propagation allowance for what follows.
    await t.db.query(`UPDATE opt_outs SET created_at = now() - interval '1 minute'`)
    // The confirmation of STOP goes to the opted-out number by design.
    await plant({ clientReference: 'keyword-reply:opt_out' })
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  it('passes with a send before the opt-out and the STOP confirmation after it', async () => {
    const { code, failed } = await reconcileJson(pg.url)
    assert.deepEqual(failed, [])
    assert.equal(code, 0)
  })

  it('fails naming the message accepted while its recipient was opted out; passes once the opt-out ended before it', async () => {
    const id = await plant({})
    const { code, failed, report } = await reconcileJson(pg.url)
    assert.equal(code, 1)
    assert.deepEqual(failed, ['opt_outs_honoured'])
    assert.deepEqual(report.checks.find((ch) => ch.name === 'opt_outs_honoured')?.samples, [id])
    // Had the opt-out ended (START) before that message, it was allowed.
    await t.db.query(`UPDATE opt_outs SET removed_at = created_at + interval '1 second'`)
    assert.deepEqual((await reconcileJson(pg.url)).failed, [])
  })
})
