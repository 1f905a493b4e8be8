import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  claimDelivery,
  claimNew,
  markFinal,
  markSubmittedMany,
  markSubmitting,
} from '../../../src/delivery/claims.ts'
import type { DeliveryJob } from '../../../src/domain/message.ts'
import { applyStatusChanges } from '../../../src/events/status-writer.ts'
import { cancelMessages } from '../../../src/messages/cancel.ts'
import {
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

// The cancel and the worker's claim decide on one row (deliveries.message_id): whichever commits
// first wins, whatever the message's status says at that moment (a claimed message is still
// `queued` until the worker's `sending` is written).
describe('cancel vs a worker claim, decided on the deliveries row', () => {
  let pg: FreshDatabase
  let t: TestApp
  let c: TestCustomer
  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
    c = await createCustomer(t.app, { credit: '10.00' })
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  const send = async (over: Record<string, unknown> = {}) => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody(over),
    })
    assert.equal(r.statusCode, 202, r.body)
    const m = r.json()
    const job: DeliveryJob = {
      id: m.id,
      created_at: m.created_at,
      customer_id: c.id,
      to: m.to,
      from: m.from,
      body: m.body,
      encoding: m.encoding,
      segments: m.segments,
      price_micros: 7900,
      priority: m.priority,
      country: m.country,
      expires_at: m.expires_at,
    }
    return job
  }
  const cancel = (id: string) =>
    t.app.inject({ method: 'POST', url: `/v1/messages/${id}/cancel`, headers: c.auth })
  const refunds = async (id: string) =>
    Number(
      (
        await t.db.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ledger WHERE message_id = $1 AND kind = 'refund'`,
          [id],
        )
      ).rows[0]?.n,
    )

  it('claimed first (status still queued): the cancel is 409 and the worker may submit', async () => {
    const job = await send()
    const attempt = (await claimNew(t.db, [job], 60_000)).get(job.id)
    assert.equal(attempt, 1)
    const res = await cancel(job.id)
    assert.equal(res.statusCode, 409, res.body)
    assert.equal(res.json().error.code, 'not_cancelable')
    assert.deepEqual([...(await markSubmitting(t.db, [{ id: job.id, attempt: 1 }]))], [job.id])
    assert.equal(await refunds(job.id), 0)
  })

  it('canceled first: the worker cannot claim it, is told it is done (not submitted), and it is refunded once', async () => {
    const job = await send()
    const res = await cancel(job.id)
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().status, 'canceled')
    assert.equal(res.json().is_final, true)
    assert.equal((await claimNew(t.db, [job], 60_000)).size, 0)
    assert.deepEqual(await claimDelivery(t.db, job, 60_000), { kind: 'done', submitted: false })
    assert.equal((await markSubmitting(t.db, [{ id: job.id, attempt: 1 }])).size, 0)
    await markFinal(t.db, job.id)
    const { rows } = await t.db.query<{ state: string }>(
      'SELECT state FROM deliveries WHERE message_id = $1',
      [job.id],
    )
    assert.equal(rows[0]?.state, 'canceled')
    assert.equal(await refunds(job.id), 1)
    const again = await cancel(job.id)
    assert.equal(again.statusCode, 409)
    assert.equal(await refunds(job.id), 1)
    const { rows: out } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE message_id = $1',
      [job.id],
    )
    assert.equal(out[0]?.n, 0, 'taken out of the outbox')
  })

  it("a dead worker's claim (lease over, never marked submitting) may be canceled; that worker then cannot submit", async () => {
    const job = await send()
    assert.equal((await claimNew(t.db, [job], 1)).get(job.id), 1)
    await t.db.query(
      `UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE message_id = $1`,
      [job.id],
    )
    const res = await cancel(job.id)
    assert.equal(res.statusCode, 200, res.body)
    assert.equal((await markSubmitting(t.db, [{ id: job.id, attempt: 1 }])).size, 0)
  })

  it("a cancel arriving while the worker's submitted mark is open waits for it, no deadlock (the worker's lock order)", async () => {
    const job = await send()
    assert.equal((await claimNew(t.db, [job], 60_000)).get(job.id), 1)
    let releaseWorker = () => {}
    const workerMayGoOn = new Promise<void>((r) => {
      releaseWorker = r
    })
    // The worker's transaction (delivery/worker.ts): the submitted mark takes the deliveries row,
    // then `sending` + `sent` take the messages row.
    const worker = t.db.transaction(async (tx) => {
      await markSubmittedMany(tx, [{ job, carrier: 'sim', carrierIds: [`dl-${job.id}`] }])
      await workerMayGoOn
      await applyStatusChanges(tx, [
        { messageId: job.id, createdAt: job.created_at, status: 'sending' },
        { messageId: job.id, createdAt: job.created_at, status: 'sent' },
      ])
    })
    await new Promise((r) => setTimeout(r, 100))
    const canceling = cancel(job.id)
    // The cancel is now waiting on a row lock; the worker goes on to the messages row.
    await new Promise((r) => setTimeout(r, 300))
    releaseWorker()
    await worker // a deadlock would abort one of the two (40P01)
    const res = await canceling
    assert.equal(res.statusCode, 409, res.body)
    assert.equal(res.json().error.code, 'not_cancelable')
    assert.equal(await refunds(job.id), 0)
  })

  it('racing: of a cancel and a claim started together exactly one wins, 50 times over', async () => {
    for (let i = 0; i < 50; i++) {
      const job = await send()
      const [res, claimed] = await Promise.all([cancel(job.id), claimNew(t.db, [job], 60_000)])
      const won = claimed.has(job.id)
      assert.equal(res.statusCode, won ? 409 : 200, `claim ${won}, cancel ${res.statusCode}`)
      assert.equal(await refunds(job.id), won ? 0 : 1)
    }
  })

  it('a scheduled message can be canceled; a sent one cannot; another tenant gets 404', async () => {
    const job = await send({ send_at: new Date(Date.now() + 3_600_000).toISOString() })
    const res = await cancel(job.id)
    assert.equal(res.statusCode, 200, res.body)
    const sent = await send()
    await t.db.query(`UPDATE messages SET status = 'sent' WHERE id = $1 AND created_at = $2`, [
      sent.id,
      sent.created_at,
    ])
    const refused = await cancel(sent.id)
    assert.equal(refused.statusCode, 409)
    assert.match(refused.json().error.message, /sent/)
    const other = await createCustomer(t.app, { name: 'other' })
    const foreign = await t.app.inject({
      method: 'POST',
      url: `/v1/messages/${job.id}/cancel`,
      headers: other.auth,
    })
    assert.equal(foreign.statusCode, 404)
    const bogus = await t.app.inject({ method: 'POST', url: '/v1/messages/nope/cancel', headers: c.auth })
    assert.equal(bogus.statusCode, 404)
  })
})
