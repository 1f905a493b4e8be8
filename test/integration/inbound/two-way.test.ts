// Two-way messaging end to end (PostgreSQL, SMPP simulator): inbound routing and reassembly,
// STOP/START/HELP, opt-out screening and sender rules on the send path.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions } from 'light-my-request'
import {
  adminHeaders,
  createCustomer,
  moneySnapshot,
  sendBody,
  type TestCustomer,
} from '../../helpers/app.ts'
import { HTTP_SECRET, startTwoWay, type TwoWay } from '../../helpers/two-way.ts'
import { waitFor } from '../../helpers/wait.ts'
import { signedPost } from '../../helpers/webhooks.ts'

const LONG_CODE = '+14155550100'
const SHORT_CODE = '72345'
const SUBSCRIBER = '+14155550177'

describe('two-way messaging (PostgreSQL, SMPP simulator)', () => {
  let w: TwoWay
  let acme: TestCustomer
  let beta: TestCustomer

  const inject = (opts: InjectOptions) => w.t.app.inject(opts)
  const assign = async (body: object) => {
    const res = await inject({
      method: 'POST',
      url: '/v1/admin/numbers',
      headers: adminHeaders,
      payload: body,
    })
    assert.equal(res.statusCode, 201, res.body)
    return res.json()
  }
  const inboundOf = async (c: TestCustomer) =>
    (await inject({ method: 'GET', url: '/v1/inbound_messages', headers: c.auth })).json().data as {
      id: string
      body: string
      from: string
      to: string
      parts: number
      keyword: string | null
    }[]
  const send = (c: TestCustomer, over: Record<string, unknown> = {}) =>
    inject({ method: 'POST', url: '/v1/messages', headers: c.auth, payload: sendBody(over) })
  const ledgerRows = async (customerId: string) =>
    Number(
      (
        await w.t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger WHERE customer_id = $1', [
          customerId,
        ])
      ).rows[0]?.n,
    )
  const balance = async (c: TestCustomer) =>
    (await inject({ method: 'GET', url: '/v1/balance', headers: c.auth })).json().balance.amount as string

  before(async () => {
    w = await startTwoWay()
    acme = await createCustomer(w.t.app, { name: 'acme', credit: '10.00' })
    beta = await createCustomer(w.t.app, { name: 'beta', credit: '10.00' })
    await assign({ number: LONG_CODE, customer_id: acme.id })
    await assign({ number: SHORT_CODE, customer_id: acme.id, keyword: 'acme' })
    await assign({ number: SHORT_CODE, customer_id: beta.id, keyword: 'BETA' })
    await waitFor(() => w.pipeline.links.every((l) => l.carrier.healthy()), 'SMPP bound')
  })
  after(async () => {
    await w?.close()
  })

  it('lists numbers for the admin and each customer its own; conflicting assignments are refused', async () => {
    const all = (await inject({ method: 'GET', url: '/v1/admin/numbers', headers: adminHeaders })).json()
    assert.deepEqual(
      all.data.map((n: { number: string; keyword: string | null }) => [n.number, n.keyword]),
      [
        [LONG_CODE, null],
        [SHORT_CODE, 'ACME'],
        [SHORT_CODE, 'BETA'],
      ],
    )
    const mine = (await inject({ method: 'GET', url: '/v1/numbers', headers: beta.auth })).json()
    assert.deepEqual(mine.data, [
      {
        object: 'number',
        number: SHORT_CODE,
        type: 'short_code',
        keyword: 'BETA',
        created_at: mine.data[0].created_at,
      },
    ])
    const dup = await inject({
      method: 'POST',
      url: '/v1/admin/numbers',
      headers: adminHeaders,
      payload: { number: SHORT_CODE, customer_id: beta.id },
    })
    assert.equal(dup.statusCode, 409)
    const reserved = await inject({
      method: 'POST',
      url: '/v1/admin/numbers',
      headers: adminHeaders,
      payload: { number: SHORT_CODE, customer_id: beta.id, keyword: 'stop' },
    })
    assert.equal(reserved.statusCode, 400)
    const customerKey = await inject({ method: 'GET', url: '/v1/admin/numbers', headers: acme.auth })
    assert.equal(customerKey.statusCode, 403)
  })

  it('reassembles a 3-part UCS-2 MO sent with a UDH into one message for the owner of the number', async () => {
    const body = `Ответ: ${'Спасибо за заказ! '.repeat(10)}👍`
    assert.ok(body.length > 134 && body.length <= 201, 'three UCS-2 parts')
    await w.sim.sendInbound({ from: SUBSCRIBER, to: LONG_CODE, body }, 'smpp', 'udh')
    const got = await waitFor(async () => (await inboundOf(acme)).find((m) => m.body === body), 'the MO')
    assert.equal(got.parts, 3)
    assert.equal(got.from, SUBSCRIBER)
    assert.equal(got.to, LONG_CODE)
    assert.equal((await inboundOf(beta)).length, 0, 'not visible to another tenant')
    const one = await inject({ method: 'GET', url: `/v1/inbound_messages/${got.id}`, headers: beta.auth })
    assert.equal(one.statusCode, 404)
    const parts = await w.t.db.query('SELECT 1 FROM inbound_parts')
    assert.equal(parts.rowCount, 0, 'parts removed once assembled')
    const events = await inject({
      method: 'GET',
      url: '/v1/events?type=message.received',
      headers: acme.auth,
    })
    assert.ok(events.json().data.some((e: { data: { id: string } }) => e.data.id === got.id))
  })

  it('reassembles SAR-concatenated GSM-7 parts too', async () => {
    const body = `SAR ${'0123456789'.repeat(20)}`
    await w.sim.sendInbound({ from: SUBSCRIBER, to: LONG_CODE, body }, 'smpp', 'sar')
    const got = await waitFor(async () => (await inboundOf(acme)).find((m) => m.body === body), 'the SAR MO')
    assert.equal(got.parts, 2)
  })

  it('routes by keyword on a shared short code', async () => {
    await w.sim.sendInbound({ from: SUBSCRIBER, to: SHORT_CODE, body: 'beta yes please' })
    await w.sim.sendInbound({ from: SUBSCRIBER, to: SHORT_CODE, body: 'Acme hello' })
    const b = await waitFor(
      async () => (await inboundOf(beta)).find((m) => m.body === 'beta yes please'),
      'beta',
    )
    assert.equal(b.keyword, 'BETA')
    const a = await waitFor(async () => (await inboundOf(acme)).find((m) => m.body === 'Acme hello'), 'acme')
    assert.equal(a.keyword, 'ACME')
  })

  it('routes MO from an HTTP provider too (signed POST to /v1/providers/{provider}/inbound)', async () => {
    const res = await inject(
      signedPost(
        '/v1/providers/sim-http/inbound',
        { from: SUBSCRIBER, to: LONG_CODE, body: 'via http' },
        HTTP_SECRET,
      ),
    )
    assert.equal(res.statusCode, 202, res.body)
    const got = (await inboundOf(acme)).find((m) => m.body === 'via http')
    assert.ok(got, 'stored and routed before the 202')
  })

  it('keeps unroutable MO for the operator and counts it out of the customers’ view', async () => {
    await w.sim.sendInbound({ from: SUBSCRIBER, to: SHORT_CODE, body: 'GAMMA who?' })
    await w.sim.sendInbound({ from: SUBSCRIBER, to: '+14155550999', body: 'wrong number' })
    const list = await waitFor(async () => {
      const res = await inject({
        method: 'GET',
        url: '/v1/admin/inbound_messages?routed=false',
        headers: adminHeaders,
      })
      const data = res.json().data as { body: string; customer_id: string | null; carrier: string }[]
      return data.length >= 2 ? data : undefined
    }, 'unrouted MO')
    assert.deepEqual(list.map((m) => m.body).sort(), ['GAMMA who?', 'wrong number'])
    assert.ok(list.every((m) => m.customer_id === null && m.carrier === 'sim-smpp'))
    for (const c of [acme, beta]) assert.ok(!(await inboundOf(c)).some((m) => m.body === 'wrong number'))
  })

  it('STOP: the next send is 422 recipient_opted_out with nothing charged; START sends again', async () => {
    const first = await send(acme, { to: SUBSCRIBER })
    assert.equal(first.statusCode, 202, first.body)
    await inject({
      method: 'PUT',
      url: '/v1/keyword_replies',
      headers: acme.auth,
      payload: { opt_out: null },
    })
    await w.sim.sendInbound({ from: SUBSCRIBER, to: LONG_CODE, body: 'Stop' })
    await waitFor(
      async () =>
        (await inject({ method: 'GET', url: `/v1/opt_outs/${SUBSCRIBER}`, headers: acme.auth }))
          .statusCode === 200,
      'the opt-out',
    )
    const before = { balance: await balance(acme), ledger: await ledgerRows(acme.id) }
    const refused = await send(acme, { to: SUBSCRIBER })
    assert.equal(refused.statusCode, 422, refused.body)
    assert.equal(refused.json().error.code, 'recipient_opted_out')
    assert.equal(await balance(acme), before.balance)
    assert.equal(await ledgerRows(acme.id), before.ledger)
    // Another customer's list is its own.
    assert.equal((await send(beta, { to: SUBSCRIBER })).statusCode, 202)
    const events = await inject({ method: 'GET', url: '/v1/events?type=opt_out.created', headers: acme.auth })
    assert.equal(events.json().data[0]?.data.phone, SUBSCRIBER)

    await w.sim.sendInbound({ from: SUBSCRIBER, to: LONG_CODE, body: 'START' })
    await waitFor(
      async () =>
        (await inject({ method: 'GET', url: `/v1/opt_outs/${SUBSCRIBER}`, headers: acme.auth }))
          .statusCode === 404,
      'the opt-out ended',
    )
    assert.equal((await send(acme, { to: SUBSCRIBER })).statusCode, 202)
    const snap = await moneySnapshot(w.t.db)
    assert.equal(snap.unchargedMessages, 0)
    for (const c of snap.customers) assert.equal(c.balance, c.ledger_sum ?? '0')
  })

  it('HELP is answered with a billed message from the receiving number, sent to the carrier', async () => {
    await inject({
      method: 'PUT',
      url: '/v1/keyword_replies',
      headers: beta.auth,
      payload: { help: 'Beta help: reply STOP BETA to opt out' },
    })
    const before = Number(await balance(beta))
    await w.sim.sendInbound({ from: SUBSCRIBER, to: SHORT_CODE, body: 'HELP beta' })
    const reply = await waitFor(async () => {
      const { rows } = await w.t.db.query<{
        id: string
        from_sender: string
        to_number: string
        price_micros: string
        status: string
      }>(
        `SELECT id, from_sender, to_number, price_micros::text, status FROM messages
          WHERE customer_id = $1 AND body = 'Beta help: reply STOP BETA to opt out'`,
        [beta.id],
      )
      return rows[0]
    }, 'the help reply')
    assert.equal(reply.from_sender, SHORT_CODE)
    assert.equal(reply.to_number, SUBSCRIBER)
    assert.equal(reply.price_micros, '7900')
    assert.equal(Number(await balance(beta)), Number((before - 0.0079).toFixed(4)))
    await waitFor(
      () => w.sim.submits().some((s) => s.to === SUBSCRIBER.slice(1) || s.to === SUBSCRIBER),
      'the reply reaching the carrier',
    )
  })

  it('STOP <keyword> on a shared short code opts out of that customer only', async () => {
    const other = '+14155550178'
    await w.sim.sendInbound({ from: other, to: SHORT_CODE, body: 'STOP BETA' })
    await waitFor(
      async () =>
        (await inject({ method: 'GET', url: `/v1/opt_outs/${other}`, headers: beta.auth })).statusCode ===
        200,
      'beta opt-out',
    )
    assert.equal(
      (await inject({ method: 'GET', url: `/v1/opt_outs/${other}`, headers: acme.auth })).statusCode,
      404,
    )
    assert.equal((await send(beta, { to: other })).json().error.code, 'recipient_opted_out')
  })

  it('a numeric sender must be one of the customer’s numbers', async () => {
    const own = await send(acme, { from: LONG_CODE })
    assert.equal(own.statusCode, 202, own.body)
    const sharedCode = await send(beta, { from: SHORT_CODE })
    assert.equal(sharedCode.statusCode, 202, 'a keyword holder sends from the shared code')
    const before = await ledgerRows(beta.id)
    for (const from of [LONG_CODE, '+14155550111', '99999']) {
      const res = await send(beta, { from })
      assert.equal(res.statusCode, 422, from)
      assert.equal(res.json().error.code, 'invalid_sender')
      assert.equal(res.json().error.param, 'from')
    }
    assert.equal(await ledgerRows(beta.id), before)
    // Released: no longer a sender.
    const del = await inject({
      method: 'DELETE',
      url: `/v1/admin/numbers/${encodeURIComponent(SHORT_CODE)}?keyword=beta`,
      headers: adminHeaders,
    })
    assert.equal(del.statusCode, 200, del.body)
    assert.equal((await send(beta, { from: SHORT_CODE })).json().error?.code, 'invalid_sender')
    await inject({
      method: 'POST',
      url: '/v1/admin/numbers',
      headers: adminHeaders,
      payload: { number: SHORT_CODE, customer_id: beta.id, keyword: 'BETA' },
    })
  })
})
