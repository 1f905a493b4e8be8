// A receipt that matches no message is parked at once (one match attempt, not ~50 over 10 s in the
// request), counted in /metrics, applied when its carrier id is recorded, swept up after a lost
// re-match, and deleted by maintenance after 24 h.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Registry } from 'prom-client'
import type { Carrier, Receipt, SubmitRequest, SubmitResult } from '../../../src/carriers/carrier.ts'
import type { CarrierConfig } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { newWebhookSecret } from '../../../src/carriers/webhook-auth.ts'
import type { Db, Queryable } from '../../../src/db/db.ts'
import { createReceiptHandler } from '../../../src/delivery/receipts.ts'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import { runMaintenance } from '../../../src/maintenance/maintenance.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { type AppWithPipeline, startAppWithPipeline } from '../../helpers/pipeline.ts'
import { signedPost } from '../../helpers/webhooks.ts'
import { eventually } from '../bus/wait.ts'

/** A carrier network we drive by hand: its submits wait until the test answers them. */
function handCarrier() {
  const pending: { req: SubmitRequest; answer: (r: SubmitResult) => void }[] = []
  let receipt: ((r: Receipt) => unknown) | undefined
  const carrier: Carrier = {
    name: 'hand',
    submit: (req) => new Promise((answer) => pending.push({ req, answer })),
    onReceipt: (fn) => {
      receipt = fn
    },
    onInbound: () => {},
    healthy: () => true,
    close: async () => {},
  }
  return { carrier, pending, deliverSm: (r: Receipt) => receipt?.(r) }
}

describe('unmatched receipts are parked, not retried in the request', () => {
  const secret = newWebhookSecret()
  const counts = { match: 0 }
  const registry = new Registry()
  const hand = handCarrier()
  const unmatchedLines: { carrier: string; count: number }[] = []
  let pg: FreshDatabase
  let stack: AppWithPipeline
  let t: TestApp
  let auth: { authorization: string }

  before(async () => {
    pg = await freshDatabase()
    const carriers: CarrierConfig[] = [
      // Never chosen for submits (weight 0): it only posts receipts.
      { name: 'signed', type: 'http', url: 'http://127.0.0.1:9/x', weight: 0, webhook_secret: secret },
      { name: 'hand', type: 'smpp', host: '127.0.0.1', port: 9, system_id: 'x', password: 'y', weight: 100 },
    ]
    stack = await startAppWithPipeline(pg.url, carriers, {
      registry,
      pipeline: {
        makeCarrier: (c) => (c.name === 'hand' ? hand.carrier : createCarrier(c)),
        onUnmatchedReceipts: (carrier, count) => unmatchedLines.push({ carrier, count }),
      },
    })
    ;({ t, auth } = stack)
    // Count the matching UPDATEs the pipeline runs (it shares the app's pool), in transactions too.
    const counting = (q: Queryable): Queryable['query'] => {
      const query = q.query.bind(q)
      return (sql, params, o) => {
        if (o?.name === 'receipt_match') counts.match++
        return query(sql, params, o)
      }
    }
    t.db.query = counting(t.db)
    const transaction = t.db.transaction.bind(t.db)
    t.db.transaction = (fn) => transaction((tx) => fn({ query: counting(tx), exec: (sql) => tx.exec(sql) }))
  })
  after(async () => {
    await stack?.close()
    await pg?.drop()
  })

  const parked = async (carrier: string) =>
    (
      await t.db.query<{ carrier_id: string; status: string }>(
        'SELECT carrier_id, status FROM parked_receipts WHERE carrier = $1 ORDER BY carrier_id',
        [carrier],
      )
    ).rows
  const metric = async (name: string) => {
    const text = await (await t.app.inject({ url: '/metrics' })).body
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    return line === undefined ? undefined : Number(line.split(' ').at(-1))
  }

  it('one bogus receipt is parked by the time it is answered, after a single match attempt', async () => {
    const before = counts.match
    const res = await t.app.inject(
      signedPost('/v1/providers/signed/dlr', { carrier_id: 'bogus-one', status: 'delivered' }, secret),
    )
    assert.equal(res.statusCode, 202, res.body)
    assert.deepEqual(await parked('signed'), [{ carrier_id: 'bogus-one', status: 'delivered' }])
    // Today's retry loop ran ~51 of these over ~10 s before answering.
    assert.equal(counts.match - before, 1)
  })

  it('500 bogus receipts are all parked and counted, with one log line per burst', async () => {
    const before = counts.match
    const answers = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        t.app.inject(
          signedPost(
            '/v1/providers/signed/dlr',
            { carrier_id: `bogus-${1000 + i}`, status: 'undelivered' },
            secret,
          ),
        ),
      ),
    )
    assert.deepEqual(new Set(answers.map((a) => a.statusCode)), new Set([202]))
    assert.equal((await parked('signed')).length, 501)
    // Grouped: at most one UPDATE per receipt, in practice a handful for all of them.
    assert.ok(counts.match - before <= 500, `${counts.match - before} match statements`)
    assert.equal(await metric('smsgw_receipts_parked'), 501)
    assert.equal(await metric('smsgw_receipts_unmatched_total'), 501)
    // Logged once per 10 s burst with a count, not once per receipt (the counting: burst-reporter.test.ts).
    assert.ok(unmatchedLines.length <= 3, JSON.stringify(unmatchedLines))
    assert.ok(unmatchedLines.every((l) => l.carrier === 'signed'))
  })

  it('a receipt that beats the submit response is parked, then applied when the carrier id is recorded', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/v1/messages', headers: auth, payload: sendBody() })
    assert.equal(r.statusCode, 202, r.body)
    const id = r.json().id as string
    await eventually(() => hand.pending.length === 1, 'the submit to reach the carrier', 20_000)
    // The SMSC reports before its submit_sm_resp reaches us (deliver_sm overtakes the response).
    await hand.deliverSm({ carrierId: 'early-1', status: 'delivered' })
    assert.deepEqual(await parked('hand'), [{ carrier_id: 'early-1', status: 'delivered' }])
    const rematchedBefore = (await metric('smsgw_receipts_rematched_total')) ?? 0
    hand.pending[0]?.answer({ carrierIds: ['early-1'] })
    const status = async () =>
      (await t.db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id])).rows[0]
        ?.status
    await eventually(async () => (await status()) === 'delivered', 'the parked receipt to deliver it', 20_000)
    await eventually(async () => (await parked('hand')).length === 0, 'the receipt to be unparked')
    assert.equal(await metric('smsgw_receipts_rematched_total'), rematchedBefore + 1)
  })
})

describe('the parked-receipt safety nets', () => {
  let pg: FreshDatabase
  let t: TestApp

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  it('the sweep applies a parked receipt whose carrier id was recorded without a re-match (a crash)', async () => {
    const customer = await createCustomer(t.app, { credit: '1.00' })
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: customer.auth,
      payload: sendBody(),
    })
    const { id, created_at } = r.json() as { id: string; created_at: string }
    await t.db.query(
      `INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts)
       VALUES ('c', 'swept-1', $1, $2, $3, 1, 1)`,
      [id, created_at, customer.id],
    )
    await t.db.query(
      `INSERT INTO parked_receipts (carrier, carrier_id, status) VALUES ('c', 'swept-1', 'expired')`,
    )
    const errors: unknown[] = []
    const handler = createReceiptHandler({
      db: t.db,
      statuses: createStatusWriter(t.db),
      onError: (err) => errors.push(err),
    })
    assert.equal(await handler.sweep(), 1)
    assert.deepEqual(errors, [])
    const { rows } = await t.db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id])
    assert.equal(rows[0]?.status, 'expired')
    assert.equal((await t.db.query(`SELECT 1 FROM parked_receipts WHERE carrier_id = 'swept-1'`)).rowCount, 0)
  })

  it('maintenance deletes receipts parked for more than 24 h and keeps younger ones', async () => {
    await t.db.query(
      `INSERT INTO parked_receipts (carrier, carrier_id, status, parked_at)
       VALUES ('c', 'old', 'delivered', now() - interval '25 hours'), ('c', 'young', 'delivered', now() - interval '23 hours')`,
    )
    const { expiredReceipts } = await runMaintenance(t.db)
    assert.equal(expiredReceipts, 1)
    const { rows } = await t.db.query<{ carrier_id: string }>(
      `SELECT carrier_id FROM parked_receipts WHERE carrier = 'c' AND carrier_id IN ('old', 'young')`,
    )
    assert.deepEqual(
      rows.map((r) => r.carrier_id),
      ['young'],
    )
  })

  it('a database failure while recording a receipt reaches onError and rejects (the carrier redelivers)', async () => {
    const errors: unknown[] = []
    const down = () => Promise.reject(Object.assign(new Error('connection terminated'), { code: '57P01' }))
    const db: Db = { kind: 'postgres', query: down, exec: down, transaction: down, close: async () => {} }
    const handler = createReceiptHandler({
      db,
      statuses: createStatusWriter(db),
      onError: (e) => errors.push(e),
    })
    await assert.rejects(
      handler.handle('c', { carrierId: 'x', status: 'delivered' }),
      /connection terminated/,
    )
    assert.equal(errors.length, 1)
  })
})
