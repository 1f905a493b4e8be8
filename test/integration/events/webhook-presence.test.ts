// The webhooks role drops the events of customers with no enabled endpoint without a statement
// (ADR 0021), and loses none of an endpoint created while events flow: every event committed
// after the endpoint's creation reaches it, whether the role hears of it from the api's broadcast
// or only from its next read of the set.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { settleBatches } from '../../../src/batches/completion.ts'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { laneSubject } from '../../../src/bus/subjects.ts'
import { addOptOut } from '../../../src/compliance/opt-outs-repository.ts'
import type { Db } from '../../../src/db/db.ts'
import { newId, uuidV7Time } from '../../../src/domain/ids.ts'
import type { DeliveryJob } from '../../../src/domain/message.ts'
import { queuedEventId } from '../../../src/events/event-ids.ts'
import { createWebhookDelivery } from '../../../src/events/webhook-delivery.ts'
import { createEndpoint } from '../../../src/events/webhook-endpoints-repository.ts'
import { createWebhookSender } from '../../../src/events/webhook-sender.ts'
import { storeInbound } from '../../../src/inbound/inbound-repository.ts'
import { createCustomer, sendBody, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import type { FreshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import type { Receiver } from '../../helpers/webhook-receiver.ts'
import { recordingDb, type WebhookTestApp, webhookTestApp } from '../../helpers/webhooks.ts'

/** The dispatcher's job for a message (the role reads only its id and customer). */
const jobOf = (customerId: string, id: string, statusCallback: boolean): DeliveryJob => ({
  id,
  created_at: new Date(uuidV7Time(id) as number).toISOString(),
  customer_id: customerId,
  to: '+14155550123',
  from: 'ACME',
  body: 'x',
  encoding: 'GSM-7',
  segments: 1,
  price_micros: 0,
  priority: 'normal',
  country: 'US',
  expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  status_callback: statusCallback,
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('webhooks: customers with no endpoint (ADR 0021)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let rx: Receiver

  let w: WebhookTestApp
  let KEY: Buffer

  before(async () => {
    w = await webhookTestApp()
    ;({ pg, t, rx, key: KEY } = w)
  })
  after(() => w?.close())

  const customer = (name: string) => createCustomer(t.app, { name, credit: '100.00' })
  const sendMany = async (c: TestCustomer, n: number, over: Record<string, unknown> = {}) => {
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c.auth,
        payload: sendBody(over),
      })
      assert.equal(res.statusCode, 202, res.body)
      ids.push((res.json() as { id: string }).id)
    }
    return ids
  }
  const received = (path: string) => new Set(rx.on(path).map((r) => r.event.id))

  async function run(opts: { db: Db; bus: Bus; prefix: string; presence?: boolean; refreshMs?: number }) {
    const sender = createWebhookSender({ allowInsecure: true })
    const delivery = createWebhookDelivery({
      allowInsecure: true,
      db: opts.db,
      bus: opts.bus,
      sender,
      key: () => KEY,
      durablePrefix: opts.prefix,
      ...(opts.presence === false ? { endpointPresence: false } : {}),
      ...(opts.refreshMs !== undefined ? { presenceRefreshMs: opts.refreshMs } : {}),
    })
    await delivery.start()
    return {
      async stop() {
        await delivery.stop()
        await sender.close()
      },
    }
  }

  it('a customer with no endpoint (callbacks or not) causes no enqueue statement; one with an endpoint does', async () => {
    const none = await customer('no-endpoint')
    const hooked = await customer('hooked')
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: hooked.auth,
      payload: { url: rx.url('/hooked') },
    })
    assert.equal(res.statusCode, 201, res.body)
    const noneIds = await sendMany(none, 30, { status_callback_url: rx.url('/cb-none') })
    const hookedIds = await sendMany(hooked, 10)

    const enqueues = (seen: { sql: string; params: string }[], customerId: string) =>
      seen.filter((s) => s.sql.includes('INSERT INTO webhook_deliveries') && s.params.includes(customerId))
        .length
    const counts: Record<string, number> = {}
    for (const presence of [true, false]) {
      const spy = recordingDb(t.db)
      const bus = createMemoryBus()
      const prefix = `wh-${presence}`
      const role = await run({ db: spy.db, bus, prefix, presence })
      try {
        for (const id of noneIds) await bus.publish(laneSubject('normal'), jobOf(none.id, id, true))
        for (const id of hookedIds) await bus.publish(laneSubject('normal'), jobOf(hooked.id, id, false))
        await waitFor(async () => (await bus.pending(`${prefix}-queued`)) === 0, 'every job handled', 20_000)
        if (presence) {
          const want = hookedIds.map(queuedEventId)
          await waitFor(() => want.every((id) => received('/hooked').has(id)), "hooked's webhooks", 20_000)
        }
      } finally {
        await role.stop()
        await bus.close()
      }
      counts[`none-${presence}`] = enqueues(spy.seen, none.id)
      counts[`hooked-${presence}`] = enqueues(spy.seen, hooked.id)
    }
    // With the set, no-endpoint costs nothing; without it (the control), each group cost a statement.
    assert.equal(counts['none-true'], 0, JSON.stringify(counts))
    assert.ok((counts['hooked-true'] ?? 0) > 0, JSON.stringify(counts))
    assert.ok((counts['none-false'] ?? 0) > 0, JSON.stringify(counts))
    assert.equal(received('/cb-none').size, 0, 'no callback without an endpoint to sign it')
  })

  it('inbound, opt-out and batch.completed run no enqueue statement for a customer without an endpoint; one with an endpoint gets each', async () => {
    const none = await customer('writers-none')
    const hooked = await customer('writers-hooked')
    // Subscribed to these three types only: the check follows the endpoint's filter too.
    const types = ['message.received', 'opt_out.created', 'batch.completed']
    await createEndpoint(t.db, KEY, {
      customerId: hooked.id,
      url: rx.url('/writers'),
      events: types,
      description: null,
    })
    const filtered = await customer('writers-filtered')
    await createEndpoint(t.db, KEY, {
      customerId: filtered.id,
      url: rx.url('/filtered'),
      events: ['message.delivered'],
      description: null,
    })
    const batchOf = async (customerId: string) => {
      const id = newId()
      await t.db.query(
        `INSERT INTO batches (id, customer_id, created_at, from_sender, body, priority, total, accepted,
                              rejected, price_micros, currency, open_messages)
         VALUES ($1, $2, now(), 'ACME', 'x', 'normal', 1, 1, '[]', 0, 'USD', 1)`,
        [id, customerId],
      )
      return id
    }
    const spy = recordingDb(t.db)
    const write = async (customerId: string, phone: string) => {
      const batch = await batchOf(customerId)
      await spy.db.transaction(async (tx) => {
        await storeInbound(tx, {
          carrier: 'sim',
          from: phone,
          to: '+14155550100',
          body: 'STOP',
          customerId,
          keyword: 'STOP',
          parts: 1,
          receivedAt: new Date(),
        })
        await addOptOut(tx, customerId, phone, 'keyword')
        await settleBatches(tx, new Map([[batch, 1]]))
      })
    }
    await write(none.id, '+14155550111')
    await write(filtered.id, '+14155550112')
    const enqueues = spy.seen.filter((x) => x.sql.includes('INSERT INTO webhook_deliveries')).length
    assert.equal(enqueues, 0, 'no enqueue statement for customers with no endpoint for these events')
    await write(hooked.id, '+14155550113')
    assert.equal(spy.seen.filter((x) => x.sql.includes('INSERT INTO webhook_deliveries')).length, 3)
    const { rows } = await t.db.query<{ customer_id: string; event_type: string }>(
      'SELECT customer_id::text, event_type FROM webhook_deliveries WHERE customer_id = ANY($1::uuid[]) ORDER BY event_type',
      [[none.id, hooked.id, filtered.id]],
    )
    assert.deepEqual(
      rows.map((r) => [r.customer_id, r.event_type]),
      [...types].sort().map((type) => [hooked.id, type]),
    )
  })

  it('an endpoint created while events flow gets every event committed after it (no broadcast: the next read)', async () => {
    const c = await customer('late-read')
    const ids = await sendMany(c, 120)
    const bus = createMemoryBus()
    // A long read period would lose nothing either; a short one keeps the test short.
    const role = await run({ db: t.db, bus, prefix: 'wh-late', refreshMs: 300 })
    const afterCreate: string[] = []
    try {
      for (const [i, id] of ids.entries()) {
        if (i === 40) {
          // Straight into PostgreSQL: no api, so no broadcast.
          await createEndpoint(t.db, KEY, {
            customerId: c.id,
            url: rx.url('/late'),
            events: null,
            description: null,
          })
        }
        await bus.publish(laneSubject('normal'), jobOf(c.id, id, false))
        if (i >= 40) afterCreate.push(queuedEventId(id))
        await sleep(8)
      }
      await waitFor(
        () => afterCreate.every((id) => received('/late').has(id)),
        'every event after the endpoint',
        20_000,
      )
    } finally {
      await role.stop()
      await bus.close()
    }
  })

  it('an endpoint created through the api is heard of at once (broadcast), not after the read period', async () => {
    const bus = createMemoryBus()
    const api = await startApp(pg.url, {
      env: { SMSGW_WEBHOOK_ALLOW_INSECURE: 'true' },
      deps: { webhookKey: () => KEY, bus },
    })
    const c = await customer('late-broadcast')
    const ids = await sendMany(c, 20)
    const role = await run({ db: t.db, bus, prefix: 'wh-bc', refreshMs: 600_000 })
    try {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/webhook_endpoints',
        headers: c.auth,
        payload: { url: rx.url('/broadcast') },
      })
      assert.equal(res.statusCode, 201, res.body)
      for (const id of ids) await bus.publish(laneSubject('normal'), jobOf(c.id, id, false))
      const want = ids.map(queuedEventId)
      await waitFor(() => want.every((id) => received('/broadcast').has(id)), 'every event', 20_000)
    } finally {
      await role.stop()
      await api.close()
      await bus.close()
    }
  })
})
