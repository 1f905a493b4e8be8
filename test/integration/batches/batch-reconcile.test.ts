import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { applyStatusChanges } from '../../../src/events/status-writer.ts'
import { reconcile } from '../../../src/reconcile/reconcile.ts'
import { createCustomer, setRates, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { cloneDatabase, smsgwReconcile, withClient } from '../reconcile/helpers.ts'
import { postBatch, usNumbers } from './helpers.ts'

// `smsgw reconcile` checks batches and cancels: clean on a database with a completed batch, an
// open one and canceled messages; failing, naming the check, on a copy with one fault planted.
describe('reconcile: batches and cancels', () => {
  let pg: FreshDatabase
  let t: TestApp
  let c: TestCustomer
  let done: { id: string; messages: { id: string; created_at: Date }[] }
  let canceledId: string
  const scratch: FreshDatabase[] = []

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
    c = await createCustomer(t.app, { credit: '10.00' })
    const hook = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: c.auth,
      payload: { url: 'https://hooks.example.com/sms', events: ['batch.completed'] },
    })
    assert.equal(hook.statusCode, 201, hook.body)
    const post = async (n: number, start: number) => {
      const r = await postBatch(t.app, c.auth, {
        from: 'ACME',
        body: 'Hi ${n}',
        recipients: usNumbers(n, start).map((to, i) => ({ to, params: { n: String(i) } })),
      })
      assert.equal(r.statusCode, 202, r.body)
      const id = r.json().id as string
      const { rows } = await t.db.query<{ id: string; created_at: Date }>(
        'SELECT id::text, created_at FROM messages WHERE batch_id = $1 ORDER BY id',
        [id],
      )
      return { id, messages: rows }
    }
    done = await post(20, 0)
    const canceledBatch = await post(10, 100)
    await post(5, 200) // stays open
    // Two canceled messages of the first batch, the rest delivered: it completes.
    for (const m of done.messages.slice(0, 2)) {
      const r = await t.app.inject({ method: 'POST', url: `/v1/messages/${m.id}/cancel`, headers: c.auth })
      assert.equal(r.statusCode, 200, r.body)
    }
    canceledId = done.messages[0]?.id as string
    await t.db.transaction((tx) =>
      applyStatusChanges(
        tx,
        done.messages.slice(2).map((m) => ({
          messageId: m.id,
          createdAt: new Date(m.created_at).toISOString(),
          status: 'delivered' as const,
        })),
      ),
    )
    // A batch canceled whole: it completes too.
    const r = await t.app.inject({
      method: 'POST',
      url: `/v1/batches/${canceledBatch.id}/cancel`,
      headers: c.auth,
    })
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(r.json().canceled, 10)
  })
  after(async () => {
    for (const db of scratch) await db.drop()
    await t?.close()
    await pg?.drop()
  })

  const failedChecks = async (url: string) => {
    const db = (await import('../../../src/db/postgres.ts')).createPostgresDb({ url, poolSize: 2 })
    try {
      const report = await reconcile({ db })
      return report.checks.filter((x) => !x.ok).map((x) => x.name)
    } finally {
      await db.close()
    }
  }
  const planted = async (sql: string, params: unknown[] = []) => {
    const db = await cloneDatabase(pg)
    scratch.push(db)
    await withClient(db.url, (cl) => cl.query(sql, params))
    return db.url
  }

  it('passes on the clean database (smsgw reconcile exits 0), with the batch completed once', async () => {
    const b = await t.app.inject({ method: 'GET', url: `/v1/batches/${done.id}`, headers: c.auth })
    assert.equal(b.json().status, 'completed')
    assert.deepEqual(b.json().counts, { canceled: 2, delivered: 18 })
    const run = await smsgwReconcile(['--database-url', pg.url])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /batches_consistent/)
    assert.match(run.stdout, /cancels_unsent/)
    const ev = await t.app.inject({ method: 'GET', url: '/v1/events?type=batch.completed', headers: c.auth })
    const completed = ev.json().data.map((e: { data: { id: string; counts: object } }) => e.data)
    assert.equal(completed.length, 2)
    assert.deepEqual(completed.find((d: { id: string }) => d.id === done.id)?.counts, {
      canceled: 2,
      delivered: 18,
    })
    assert.deepEqual(completed.find((d: { id: string }) => d.id !== done.id)?.counts, { canceled: 10 })
    // Queued for the customer's webhook in the transaction that completed the batch.
    const { rows } = await t.db.query<{ event_id: string }>(
      `SELECT event_id FROM webhook_deliveries WHERE customer_id = $1 AND event_type = 'batch.completed' ORDER BY event_id`,
      [c.id],
    )
    assert.deepEqual(
      rows.map((r) => r.event_id),
      ev
        .json()
        .data.map((e: { id: string }) => e.id)
        .sort(),
    )
  })

  it("a batch charge that is not the sum of its messages' prices fails batches_consistent", async () => {
    const url = await planted('UPDATE batches SET price_micros = price_micros + 1 WHERE id = $1', [done.id])
    assert.deepEqual(await failedChecks(url), ['batches_consistent'])
  })

  it('an open count that does not match the messages fails batches_consistent', async () => {
    const url = await planted(
      'UPDATE batches SET open_messages = open_messages + 1 WHERE completed_at IS NULL',
    )
    assert.deepEqual(await failedChecks(url), ['batches_consistent'])
  })

  it('a canceled message a worker went on with fails cancels_unsent', async () => {
    const url = await planted(`UPDATE deliveries SET state = 'submitting' WHERE message_id = $1`, [
      canceledId,
    ])
    assert.deepEqual(await failedChecks(url), ['cancels_unsent'])
  })

  it('a canceled message recorded at a carrier fails cancels_unsent (and refunds_match_failures)', async () => {
    const url = await planted(
      `INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts)
       SELECT 'sim', 'x1', id, created_at, customer_id, 1, 1 FROM messages WHERE id = $1`,
      [canceledId],
    )
    const failed = await failedChecks(url)
    assert.ok(failed.includes('cancels_unsent'), failed.join())
  })
})
