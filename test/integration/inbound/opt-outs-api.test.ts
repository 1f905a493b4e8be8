// The opt-out list API, the alphanumeric sender policy per country, and the compliance cache of
// two api processes kept in step over NATS (an opt-out made on one refuses the next send on the
// other at once).

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import {
  adminHeaders,
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
} from '../../helpers/app.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('opt-out API, sender policy, cache shared over NATS (PostgreSQL, NATS)', () => {
  let pg: FreshDatabase
  let a: TestApp
  let b: TestApp
  const buses: Bus[] = []
  const stream = `T_OPTOUT_${randomUUID().slice(0, 8).toUpperCase()}`

  before(async () => {
    pg = await freshDatabase()
    const natsOpts = { servers: NATS_URL, stream, subjectPrefix: stream.toLowerCase() }
    for (let i = 0; i < 2; i++) buses.push(await createNatsBus(natsOpts))
    const env = { SMSGW_NUMERIC_SENDER_COUNTRIES: 'US, ca' }
    a = await startApp(pg.url, { env, deps: { bus: buses[0] } })
    b = await startApp(pg.url, { env, deps: { bus: buses[1] } })
    await setRates(a.app)
  })
  after(async () => {
    await a?.close()
    await b?.close()
    for (const bus of buses) await bus.close()
    await deleteStream(stream)
    await pg?.drop()
  })

  it('adds, lists, reads and removes opt-outs; bad numbers get 422 and change nothing', async () => {
    const c = await createCustomer(a.app, { credit: '1.00' })
    const post = (phone: string) =>
      a.app.inject({ method: 'POST', url: '/v1/opt_outs', headers: c.auth, payload: { phone } })
    const created = await post('+1 415-555-0101')
    assert.equal(created.statusCode, 201, created.body)
    assert.equal(created.json().phone, '+14155550101')
    assert.equal(created.json().source, 'api')
    assert.equal((await post('+14155550101')).statusCode, 200, 'already on the list')
    assert.equal((await post('+14155550102')).statusCode, 201)
    const bad = await post('not a number')
    assert.equal(bad.statusCode, 422)
    assert.equal(bad.json().error.code, 'invalid_phone_number')

    const page1 = (await a.app.inject({ method: 'GET', url: '/v1/opt_outs?limit=1', headers: c.auth })).json()
    assert.deepEqual(
      page1.data.map((o: { phone: string }) => o.phone),
      ['+14155550102'],
    )
    assert.equal(page1.has_more, true)
    const page2 = (
      await a.app.inject({
        method: 'GET',
        url: `/v1/opt_outs?limit=1&cursor=${page1.next_cursor}`,
        headers: c.auth,
      })
    ).json()
    assert.deepEqual(
      page2.data.map((o: { phone: string }) => o.phone),
      ['+14155550101'],
    )
    assert.equal(page2.has_more, false)

    const other = await createCustomer(a.app)
    const notTheirs = await a.app.inject({
      method: 'GET',
      url: '/v1/opt_outs/+14155550101',
      headers: other.auth,
    })
    assert.equal(notTheirs.statusCode, 404)

    const del = await a.app.inject({ method: 'DELETE', url: '/v1/opt_outs/%2B14155550101', headers: c.auth })
    assert.equal(del.statusCode, 200)
    assert.deepEqual(del.json(), { object: 'opt_out', phone: '+14155550101', deleted: true })
    const again = await a.app.inject({
      method: 'DELETE',
      url: '/v1/opt_outs/%2B14155550101',
      headers: c.auth,
    })
    assert.equal(again.statusCode, 404)
    const events = await a.app.inject({
      method: 'GET',
      url: '/v1/events?type=opt_out.created',
      headers: c.auth,
    })
    assert.deepEqual(
      events.json().data.map((e: { data: { phone: string } }) => e.data.phone),
      ['+14155550102', '+14155550101'],
    )
    const admin = await a.app.inject({ method: 'GET', url: '/v1/opt_outs', headers: adminHeaders })
    assert.equal(admin.statusCode, 403)
  })

  it('an opt-out made through one api process refuses the next send on the other at once', async () => {
    const c = await createCustomer(a.app, { credit: '1.00' })
    const from = 'ACME'
    // US refuses alphanumeric senders here: send to GB. b caches the customer's (empty) list first.
    const gb = '+447911123456'
    const toGb = () =>
      b.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c.auth,
        payload: sendBody({ to: gb, from }),
      })
    const first = await toGb()
    assert.equal(first.statusCode, 202, first.body)
    assert.equal(
      (await a.app.inject({ method: 'POST', url: '/v1/opt_outs', headers: c.auth, payload: { phone: gb } }))
        .statusCode,
      201,
    )
    // The broadcast is asynchronous; the next send must see it once it lands (no TTL wait: 30 s default).
    let res = await toGb()
    for (let i = 0; i < 100 && res.statusCode === 202; i++) {
      await new Promise((r) => setImmediate(r))
      res = await toGb()
    }
    assert.equal(res.statusCode, 422)
    assert.equal(res.json().error.code, 'recipient_opted_out')
  })

  it('alphanumeric senders follow the per-country policy; numeric senders must be owned', async () => {
    const c = await createCustomer(a.app, { credit: '1.00' })
    const send = (payload: Record<string, unknown>) =>
      a.app.inject({ method: 'POST', url: '/v1/messages', headers: c.auth, payload: sendBody(payload) })
    const us = await send({ to: '+14155550123', from: 'ACME' })
    assert.equal(us.statusCode, 422)
    assert.equal(us.json().error.code, 'invalid_sender')
    const ca = await send({ to: '+16135550123', from: 'ACME' })
    assert.equal(ca.json().error?.code, 'invalid_sender', ca.body)
    const gb = await send({ to: '+447911123456', from: 'ACME' })
    assert.equal(gb.statusCode, 202, gb.body)
    const notOwned = await send({ to: '+14155550123', from: '+14155550100' })
    assert.equal(notOwned.json().error?.code, 'invalid_sender')
    const assigned = await a.app.inject({
      method: 'POST',
      url: '/v1/admin/numbers',
      headers: adminHeaders,
      payload: { number: '+14155550100', customer_id: c.id },
    })
    assert.equal(assigned.statusCode, 201)
    // Assigned through a: b hears of it over the bus.
    const viaB = () =>
      b.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c.auth,
        payload: sendBody({ to: '+14155550123', from: '+14155550100' }),
      })
    let res = await viaB()
    for (let i = 0; i < 100 && res.statusCode !== 202; i++) {
      await new Promise((r) => setImmediate(r))
      res = await viaB()
    }
    assert.equal(res.statusCode, 202, res.body)
  })

  it('keyword replies: defaults, replaced, turned off, restored', async () => {
    const c = await createCustomer(a.app)
    const get = async () =>
      (await a.app.inject({ method: 'GET', url: '/v1/keyword_replies', headers: c.auth })).json()
    const defaults = await get()
    assert.match(defaults.opt_out, /unsubscribed/)
    const put = await a.app.inject({
      method: 'PUT',
      url: '/v1/keyword_replies',
      headers: c.auth,
      payload: { opt_out: 'Bye from Acme', help: null },
    })
    assert.equal(put.statusCode, 200)
    assert.equal(put.json().opt_out, 'Bye from Acme')
    assert.equal(put.json().help, null)
    assert.equal(put.json().opt_in, defaults.opt_in)
    const blank = await a.app.inject({
      method: 'PUT',
      url: '/v1/keyword_replies',
      headers: c.auth,
      payload: { help: ' ' },
    })
    assert.equal(blank.statusCode, 400)
    assert.equal((await get()).opt_out, 'Bye from Acme')
  })
})
