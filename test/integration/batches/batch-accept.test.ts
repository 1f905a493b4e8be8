import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { reconcile } from '../../../src/reconcile/reconcile.ts'
import { createCustomer, credit, moneySnapshot, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { postBatch, usNumbers } from './helpers.ts'

// US 0.0079 per segment, GB 0.0350 (STANDARD_RATES).
const US = 7900

describe('POST /v1/batches', () => {
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

  it('10,000 recipients with 3 invalid and 2 opted out: 9,995 accepted, charged exactly once in total, the 5 listed by index', async () => {
    const c = await createCustomer(t.app, { credit: '100.00' })
    const tos = usNumbers(10_000)
    const bad = new Map([
      [17, 'not a number'],
      [5003, '+1415'],
      [9999, '+10000000000'],
    ])
    for (const i of [100, 8000]) {
      const opt = await t.app.inject({
        method: 'POST',
        url: '/v1/opt_outs',
        headers: c.auth,
        payload: { phone: tos[i] },
      })
      assert.equal(opt.statusCode, 201, opt.body)
    }
    const recipients = tos.map((to, i) => ({ to: bad.get(i) ?? to, params: { name: `n${i}` } }))
    const res = await postBatch(t.app, c.auth, { from: 'ACME', body: 'Hi ${name}', recipients })
    assert.equal(res.statusCode, 202, res.body)
    const b = res.json()
    assert.equal(b.object, 'batch')
    assert.equal(b.total, 10_000)
    assert.equal(b.accepted, 9_995)
    assert.deepEqual(
      b.rejected.map((r: { index: number; error: { code: string } }) => [r.index, r.error.code]),
      [
        [17, 'invalid_phone_number'],
        [100, 'recipient_opted_out'],
        [5003, 'invalid_phone_number'],
        [8000, 'recipient_opted_out'],
        [9999, 'invalid_phone_number'],
      ],
    )
    assert.equal(b.price.amount, '78.9605') // 9,995 × 0.0079
    const { rows } = await t.db.query<{
      n: number
      sum: string
      balance: string
      charges: number
      ledger: string
    }>(
      `SELECT (SELECT count(*)::int FROM messages WHERE batch_id = $1) AS n,
              (SELECT sum(price_micros)::text FROM messages WHERE batch_id = $1) AS sum,
              (SELECT balance::text FROM customers WHERE id = $2) AS balance,
              (SELECT count(*)::int FROM ledger WHERE customer_id = $2 AND kind = 'charge') AS charges,
              (SELECT sum(amount)::text FROM ledger WHERE customer_id = $2) AS ledger`,
      [b.id, c.id],
    )
    assert.equal(rows[0]?.n, 9_995)
    assert.equal(rows[0]?.sum, String(9_995 * US))
    assert.equal(rows[0]?.balance, String(100_000_000 - 9_995 * US))
    assert.equal(rows[0]?.ledger, rows[0]?.balance)
    assert.equal(rows[0]?.charges, 9_995)

    const got = await t.app.inject({ method: 'GET', url: `/v1/batches/${b.id}`, headers: c.auth })
    assert.equal(got.statusCode, 200)
    assert.deepEqual(got.json().counts, { queued: 9_995 })
    assert.equal(got.json().status, 'accepted')
    const list = await t.app.inject({
      method: 'GET',
      url: `/v1/messages?batch_id=${b.id}&limit=5`,
      headers: c.auth,
    })
    assert.equal(list.json().data.length, 5)
    assert.match(list.json().data[0].body, /^Hi n\d+$/)

    const report = await reconcile({ db: t.db })
    assert.deepEqual(
      report.checks.filter((x) => !x.ok),
      [],
    )
  })

  it('a balance one message short of the batch: 402, and balance, ledger and messages unchanged', async () => {
    const c = await createCustomer(t.app)
    await credit(t.app, c.id, ((99 * US) / 1e6).toFixed(4)) // 99 messages' worth, 100 asked
    const before = await moneySnapshot(t.db)
    const res = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'Hello',
      recipients: usNumbers(100).map((to) => ({ to })),
    })
    assert.equal(res.statusCode, 402, res.body)
    assert.equal(res.json().error.code, 'insufficient_balance')
    assert.deepEqual(await moneySnapshot(t.db), before)
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM batches WHERE customer_id = $1',
      [c.id],
    )
    assert.equal(rows[0]?.n, 0)
    // And exactly enough is accepted.
    await credit(t.app, c.id, '0.0079')
    const ok = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'Hello',
      recipients: usNumbers(100).map((to) => ({ to })),
    })
    assert.equal(ok.statusCode, 202, ok.body)
    const bal = await t.app.inject({ method: 'GET', url: '/v1/balance', headers: c.auth })
    assert.equal(bal.json().balance.amount, '0.0000')
  })

  it('templating switches GSM-7/UCS-2 per recipient and prices each by its own segments', async () => {
    const c = await createCustomer(t.app, { credit: '10.00' })
    const [a, b, d, e] = usNumbers(4, 500)
    const res = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'Hello ${name}, your order ${order} is ready',
      recipients: [
        { to: a, params: { name: 'Ann', order: '1' } }, // GSM-7, 1 segment
        { to: b, params: { name: 'Zoë 😀', order: '2' } }, // emoji: UCS-2, 1 segment
        { to: d, params: { name: 'Łukasz'.repeat(10), order: '3' } }, // UCS-2, 98 chars: 2 segments
        { to: e, params: { name: 'x'.repeat(200), order: '4' } }, // GSM-7, 230 chars: 2 segments
        { to: a, params: { name: 'no order' } }, // missing ${order}
      ],
    })
    assert.equal(res.statusCode, 202, res.body)
    const batch = res.json()
    assert.equal(batch.accepted, 4)
    assert.deepEqual(
      batch.rejected.map((r: { index: number; error: { code: string; message: string } }) => [
        r.index,
        r.error.code,
      ]),
      [[4, 'invalid_request']],
    )
    assert.match(batch.rejected[0].error.message, /order/)
    const { rows } = await t.db.query<{
      to_number: string
      encoding: string
      segments: number
      price: string
    }>(
      `SELECT to_number, encoding, segments, price_micros::text AS price FROM messages WHERE batch_id = $1 ORDER BY to_number`,
      [batch.id],
    )
    const by = new Map(rows.map((r) => [r.to_number, [r.encoding, r.segments, Number(r.price)]]))
    assert.deepEqual(by.get(a as string), ['GSM-7', 1, US])
    assert.deepEqual(by.get(b as string), ['UCS-2', 1, US])
    assert.deepEqual(by.get(d as string), ['UCS-2', 2, 2 * US])
    assert.deepEqual(by.get(e as string), ['GSM-7', 2, 2 * US])
    assert.equal(batch.price.amount, '0.0474') // 6 segments × 0.0079
  })

  it('Idempotency-Key: same body replays the batch without a second charge; another body is 422', async () => {
    const c = await createCustomer(t.app, { credit: '10.00' })
    const payload = { from: 'ACME', body: 'Hi', recipients: usNumbers(50).map((to) => ({ to })) }
    const key = { 'idempotency-key': 'batch-1' }
    const first = await postBatch(t.app, c.auth, payload, key)
    const again = await postBatch(t.app, c.auth, payload, key)
    assert.equal(first.statusCode, 202)
    assert.equal(again.statusCode, 202)
    assert.equal(again.body, first.body)
    assert.equal(again.headers['idempotent-replayed'], 'true')
    const other = await postBatch(t.app, c.auth, { ...payload, body: 'Other' }, key)
    assert.equal(other.statusCode, 422)
    assert.equal(other.json().error.code, 'idempotency_key_reused')
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM messages WHERE customer_id = $1',
      [c.id],
    )
    assert.equal(rows[0]?.n, 50)
  })

  it('bad input is a 4xx and changes nothing', async () => {
    const c = await createCustomer(t.app, { credit: '10.00' })
    const before = await moneySnapshot(t.db)
    const cases: [unknown, number, string][] = [
      [{ from: 'ACME', body: 'x', recipients: [] }, 400, 'invalid_request'],
      [
        { from: 'ACME', body: 'x', recipients: usNumbers(10_001).map((to) => ({ to })) },
        400,
        'invalid_request',
      ],
      [{ from: 'ACME', body: 'x', recipients: [{ to: 'nope' }] }, 422, 'invalid_phone_number'],
      [{ from: 'ACME', body: 'x ${a}', recipients: [{ to: usNumbers(1)[0] }] }, 400, 'invalid_request'],
      [
        { from: 'a very long sender', body: 'x', recipients: [{ to: usNumbers(1)[0] }] },
        422,
        'invalid_sender',
      ],
      // A numeric sender the customer was not assigned (sender rules, src/compliance).
      [{ from: '+14155550100', body: 'x', recipients: [{ to: usNumbers(1)[0] }] }, 422, 'invalid_sender'],
      [{ from: 'ACME', body: 'x'.repeat(1601), recipients: [{ to: usNumbers(1)[0] }] }, 422, 'body_too_long'],
      [{ from: 'ACME', body: 'x', recipients: [{ to: usNumbers(1)[0], extra: 1 }] }, 400, 'invalid_request'],
      [
        { from: 'ACME', body: 'x', recipients: [{ to: usNumbers(1)[0], params: { 'bad name': 'v' } }] },
        400,
        'invalid_request',
      ],
      [
        { from: 'ACME', body: 'x', recipients: [{ to: usNumbers(1)[0] }], send_at: '2001-01-01T00:00:00Z' },
        400,
        'invalid_request',
      ],
    ]
    for (const [payload, status, code] of cases) {
      const res = await postBatch(t.app, c.auth, payload)
      assert.equal(
        res.statusCode,
        status,
        `${JSON.stringify(payload).slice(0, 80)}: ${res.body.slice(0, 200)}`,
      )
      assert.equal(res.json().error.code, code)
    }
    assert.deepEqual(await moneySnapshot(t.db), before)
    const other = await createCustomer(t.app, { credit: '1.00' })
    const mine = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'x',
      recipients: [{ to: usNumbers(1)[0] }],
    })
    const id = mine.json().id
    for (const url of [
      `/v1/batches/${id}`,
      '/v1/batches/not-a-uuid',
      '/v1/batches/0190a000-0000-7000-8000-000000000000',
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: other.auth })
      assert.equal(res.statusCode, 404, url)
    }
  })
})
