// The webhooks role drops the events of customers with no enabled endpoint without a statement
// (ADR 0021), and loses none of an endpoint created while events flow: every event committed
// after the endpoint's creation reaches it, whether the role hears of it from the api's broadcast
// or only from its next read of the set.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { laneSubject } from '../../../src/bus/subjects.ts'
import type { Db, Queryable } from '../../../src/db/db.ts'
import { uuidV7Time } from '../../../src/domain/ids.ts'
import type { DeliveryJob } from '../../../src/domain/message.ts'
import { queuedEventId } from '../../../src/events/event-ids.ts'
import { createWebhookDelivery } from '../../../src/events/webhook-delivery.ts'
import { createEndpoint } from '../../../src/events/webhook-endpoints-repository.ts'
import { createWebhookSender } from '../../../src/events/webhook-sender.ts'
import {
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import { type Receiver, startReceiver } from '../../helpers/webhook-receiver.ts'

const KEY = randomBytes(32)

/** A Db that records every statement sent with its parameters. */
function spyDb(db: Db) {
  const seen: { sql: string; params: string }[] = []
  const spied = (q: Queryable): Queryable => ({
    query: (sql, params, opts) => {
      seen.push({ sql, params: JSON.stringify(params ?? []) })
      return q.query(sql, params, opts)
    },
    exec: (sql) => {
      seen.push({ sql, params: '[]' })
      return q.exec(sql)
    },
  })
  const wrapped: Db = {
    ...spied(db),
    kind: db.kind,
    transaction: (fn) => db.transaction((tx) => fn(spied(tx))),
    close: () => db.close(),
  }
  return { db: wrapped, seen }
}

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

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url, {
      env: { SMSGW_WEBHOOK_ALLOW_INSECURE: 'true' },
      deps: { webhookKey: () => KEY },
    })
    await setRates(t.app)
    rx = await startReceiver()
  })
  after(async () => {
    await rx?.close()
    await t?.close()
    await pg?.drop()
  })

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
      const spy = spyDb(t.db)
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
