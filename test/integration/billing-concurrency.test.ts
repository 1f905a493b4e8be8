import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createCustomer, moneySnapshot, sendBody, setRates, startApp, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

// Invariant 1 (billing first, never negative) and 2 (sum(ledger) == balance) under concurrency,
// with two api instances (separate pools, like two processes) sharing one database.
describe('billing under concurrency (real PostgreSQL, two api instances)', () => {
  let pg: FreshDatabase
  let a: TestApp
  let b: TestApp

  before(async () => {
    pg = await freshDatabase()
    // Small groups and several in flight per instance, so many groups overlap on shared customers.
    a = await startApp(pg.url, { env: { SMSGW_GROUP_MAX: '64', SMSGW_GROUP_CONCURRENCY: '4' } })
    b = await startApp(pg.url, { env: { SMSGW_GROUP_MAX: '64', SMSGW_GROUP_CONCURRENCY: '4' } })
    await setRates(a.app)
  })
  after(async () => {
    await a?.close()
    await b?.close()
    await pg?.drop()
  })

  const send = (i: number, auth: { authorization: string }) =>
    (i % 2 === 0 ? a : b).app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: auth,
      payload: sendBody(),
    })

  async function assertMoneyConsistent() {
    const snap = await moneySnapshot(a.db)
    for (const c of snap.customers) {
      assert.equal(c.ledger_sum ?? '0', c.balance, `sum(ledger) != balance for ${c.id}`)
      assert.ok(BigInt(c.balance) >= 0n)
    }
    assert.equal(snap.unchargedMessages, 0, 'a message row exists without its charge')
    assert.equal(snap.counts?.messages, snap.counts?.outbox, 'every accepted message has an outbox row')
    return snap
  }

  it('one customer funded for N gets exactly N of 4N concurrent sends', async () => {
    const N = 250
    // US rate 0.0079 per segment: fund exactly N messages.
    const c = await createCustomer(a.app, { credit: (0.0079 * N).toFixed(4) })
    const results = await Promise.all(Array.from({ length: 4 * N }, (_, i) => send(i, c.auth)))
    const codes = results.map((r) => r.statusCode)
    assert.equal(codes.filter((s) => s === 202).length, N)
    assert.equal(codes.filter((s) => s === 402).length, 3 * N)
    for (const r of results.filter((r) => r.statusCode === 402)) {
      assert.equal(r.json().error.code, 'insufficient_balance')
    }
    const bal = await a.app.inject({ method: 'GET', url: '/v1/balance', headers: c.auth })
    assert.equal(bal.json().balance.amount, '0.0000')
    const { rows } = await a.db.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM messages WHERE customer_id = $1',
      [c.id],
    )
    assert.equal(Number(rows[0]?.n), N)
    await assertMoneyConsistent()
  })

  it('500 customers mixed: each gets exactly what it paid for', async () => {
    const customers = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        // Customer i can afford (i % 7) + 1 messages and sends 4x that many.
        createCustomer(a.app, { name: `c${i}`, credit: (0.0079 * ((i % 7) + 1)).toFixed(4) }),
      ),
    )
    const plan: { c: number; auth: { authorization: string } }[] = []
    customers.forEach((c, i) => {
      for (let k = 0; k < 4 * ((i % 7) + 1); k++) plan.push({ c: i, auth: c.auth })
    })
    // Interleave customers so every group mixes many of them.
    plan.sort((x, y) => ((x.c * 7919) % 1009) - ((y.c * 7919) % 1009) || 0)
    const results = await Promise.all(plan.map((p, i) => send(i, p.auth)))
    const accepted = new Map<number, number>()
    results.forEach((r, i) => {
      assert.ok(r.statusCode === 202 || r.statusCode === 402, `unexpected ${r.statusCode} ${r.body}`)
      if (r.statusCode === 202) {
        const c = plan[i]?.c as number
        accepted.set(c, (accepted.get(c) ?? 0) + 1)
      }
    })
    for (let i = 0; i < customers.length; i++) assert.equal(accepted.get(i), (i % 7) + 1, `customer ${i}`)
    const snap = await assertMoneyConsistent()
    const ids = new Set(customers.map((c) => c.id))
    for (const c of snap.customers.filter((c) => ids.has(c.id))) assert.equal(c.balance, '0')
  })

  it('within one group, the k affordable requests are the earliest arrivals', async () => {
    const solo = await startApp(pg.url, { env: { SMSGW_GROUP_MAX: '1000', SMSGW_GROUP_CONCURRENCY: '1' } })
    try {
      const c = await createCustomer(solo.app, { credit: (0.0079 * 3).toFixed(4) })
      // Warm the key and rate caches so requests reach the biller in the order they were sent.
      await solo.app.inject({
        method: 'POST',
        url: '/v1/messages/preview',
        headers: c.auth,
        payload: sendBody(),
      })
      const refs = Array.from({ length: 10 }, (_, i) => `r${i}`)
      const results = await Promise.all(
        refs.map((ref) =>
          solo.app.inject({
            method: 'POST',
            url: '/v1/messages',
            headers: c.auth,
            payload: sendBody({ client_reference: ref }),
          }),
        ),
      )
      assert.deepEqual(
        results.map((r) => r.statusCode),
        [202, 202, 202, 402, 402, 402, 402, 402, 402, 402],
      )
    } finally {
      await solo.close()
    }
  })
})
