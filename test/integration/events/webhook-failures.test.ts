// Failure handling of webhook delivery over real PostgreSQL: a 4xx ends the chain at once, a 429
// is retried, and an endpoint failing for longer than the limit is disabled with an
// endpoint.disabled event that the customer's other endpoints receive.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { queuedEventId } from '../../../src/events/event-ids.ts'
import { createWebhookDelivery, type WebhookDelivery } from '../../../src/events/webhook-delivery.ts'
import { createEndpoint } from '../../../src/events/webhook-endpoints-repository.ts'
import { enqueueEvent, pruneWebhookHistory, recordAttempt } from '../../../src/events/webhook-queue.ts'
import { createWebhookSender, type WebhookSender } from '../../../src/events/webhook-sender.ts'
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

describe('webhook failures (PostgreSQL, real receiver)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let rx: Receiver
  let sender: WebhookSender
  let delivery: WebhookDelivery
  const bus = createMemoryBus()
  const errors: Error[] = []

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url, { deps: { webhookKey: () => KEY } })
    await setRates(t.app)
    rx = await startReceiver()
    sender = createWebhookSender({ allowInsecure: true })
    delivery = createWebhookDelivery({
      allowInsecure: true,
      db: t.db,
      bus,
      sender,
      key: () => KEY,
      retryBaseMs: 10,
      // The 3-day failing streak, shortened: a few quick retries exceed it, one retry does not.
      disableAfterMs: 300,
      onError: (err) => errors.push(err as Error),
    })
    await delivery.start()
  })
  after(async () => {
    await delivery?.stop()
    await sender?.close()
    await bus.close()
    await rx?.close()
    await t?.close()
    await pg?.drop()
  })

  const endpoint = (c: TestCustomer, path: string, events: string[] | null = null) =>
    createEndpoint(t.db, KEY, { customerId: c.id, url: rx.url(path), events, description: null })
  /** Sends a message and queues its message.queued event as the bus consumer would. */
  const queueEvent = async (c: TestCustomer) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody(),
    })
    const id = (res.json() as { id: string }).id
    const eventId = queuedEventId(id)
    await enqueueEvent(t.db, { customerId: c.id, eventId, type: 'message.queued', messageId: id })
    delivery.wake()
    return eventId
  }
  const chain = async (eventId: string) =>
    (
      await t.db.query<{ state: string; attempts: number; target: string }>(
        'SELECT state, attempts, target FROM webhook_deliveries WHERE event_id = $1 ORDER BY target',
        [eventId],
      )
    ).rows

  it('a 4xx ends the chain after one attempt; a 429 with Retry-After is retried', async () => {
    const c = await createCustomer(t.app, { name: 'gone', credit: '1.00' })
    rx.setBehavior('/gone', () => 410)
    rx.setBehavior('/busy', (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : 200))
    const gone = await endpoint(c, '/gone')
    await endpoint(c, '/busy')
    const eventId = await queueEvent(c)
    await waitFor(async () => (await chain(eventId)).every((d) => d.state !== 'pending'), 'both chains ended')
    const rows = await chain(eventId)
    const byTarget = new Map(rows.map((r) => [r.target, r]))
    assert.deepEqual(byTarget.get(gone.endpoint.id), {
      state: 'failed',
      attempts: 1,
      target: gone.endpoint.id,
    })
    const busy = rows.find((r) => r.target !== gone.endpoint.id)
    assert.deepEqual([busy?.state, busy?.attempts], ['succeeded', 2])
  })

  it('an endpoint failing past the limit is disabled and endpoint.disabled reaches the other endpoints', async () => {
    const c = await createCustomer(t.app, { name: 'dead', credit: '1.00' })
    rx.setBehavior('/dead', () => 503)
    const dead = await endpoint(c, '/dead', ['message.queued'])
    const watcher = await endpoint(c, '/watcher', ['endpoint.disabled'])
    await queueEvent(c)
    const got = await waitFor(() => rx.on('/watcher')[0], 'endpoint.disabled at the other endpoint')
    assert.equal(got.event.type, 'endpoint.disabled')
    assert.equal((got.event.data as { id?: string }).id, dead.endpoint.id)
    assert.ok(new Webhook(watcher.secret).verify(got.body, got.headers))
    const shown = await t.app.inject({
      method: 'GET',
      url: `/v1/webhook_endpoints/${dead.endpoint.id}`,
      headers: c.auth,
    })
    assert.equal(shown.json().enabled, false)
    const listed = await t.app.inject({
      method: 'GET',
      url: '/v1/events?type=endpoint.disabled',
      headers: c.auth,
    })
    assert.deepEqual(
      (listed.json() as { data: { id: string }[] }).data.map((e) => e.id),
      [got.event.id],
    )
  })

  it('an attempt failing before its request (a secret sealed under another key) is a recorded retry', async () => {
    // As when api and webhooks run on different hosts, each with its own generated key.
    const c = await createCustomer(t.app, { name: 'split', credit: '1.00' })
    await createEndpoint(t.db, randomBytes(32), {
      customerId: c.id,
      url: rx.url('/split'),
      events: null,
      description: null,
    })
    const eventId = await queueEvent(c)
    // Before, the row stayed pending with 0 attempts, taken again every lease for ever.
    const attempts = await waitFor(async () => {
      const { rows } = await t.db.query<{ attempt: number; error: string; next_retry_at: Date | null }>(
        'SELECT attempt, error, next_retry_at FROM webhook_attempts WHERE event_id = $1 ORDER BY attempt',
        [eventId],
      )
      return rows.length >= 2 && rows
    }, 'retries of the failed attempt, recorded')
    assert.deepEqual(
      attempts.slice(0, 2).map((a) => [a.attempt, a.error, a.next_retry_at !== null]),
      [
        [1, 'internal error before the request', true],
        [2, 'internal error before the request', true],
      ],
    )
    assert.equal(rx.on('/split').length, 0)
    // Our failure, not the endpoint's: no failing streak, so it is never disabled for it.
    const { rows } = await t.db.query<{ enabled: boolean; failing_since: Date | null }>(
      'SELECT enabled, failing_since FROM webhook_endpoints WHERE customer_id = $1',
      [c.id],
    )
    assert.deepEqual(rows, [{ enabled: true, failing_since: null }])
    assert.ok(
      errors.some((e) => /failed before its request/.test(e.message)),
      'the operator is told',
    )
  })

  it('a failure more than a day after the last one starts a new streak: disabled only after failing continuously', async () => {
    const c = await createCustomer(t.app, { name: 'idle', credit: '1.00' })
    const ep = (await endpoint(c, '/idle')).endpoint
    const DAYS_3 = 3 * 86_400_000
    const fail = () =>
      t.db.transaction((tx) =>
        recordAttempt(
          tx,
          {
            delivery: {
              id: '0',
              customer_id: c.id,
              event_id: 'evt_idle',
              event_type: 'message.sent',
              target: ep.id,
              endpoint_id: ep.id,
              attempts: 0,
              chain_started_at: new Date(),
            },
            latencyMs: 1,
            statusCode: 503,
            error: 'HTTP 503',
            next: new Date(Date.now() + 60_000),
          },
          DAYS_3,
        ),
      )
    const streak = (failingDaysAgo: number, lastFailureHoursAgo: number) =>
      t.db.query(
        `UPDATE webhook_endpoints SET failing_since = now() - $2 * interval '1 day',
                last_failure_at = now() - $3 * interval '1 hour' WHERE id = $1`,
        [ep.id, failingDaysAgo, lastFailureHoursAgo],
      )
    // One failure 4 days ago, then nothing for 25 h: this failure is a new streak, not the 4th day.
    await streak(4, 25)
    assert.equal(await fail(), false)
    const { rows } = await t.db.query<{ fresh: boolean }>(
      `SELECT failing_since > now() - interval '1 minute' AS fresh FROM webhook_endpoints WHERE id = $1`,
      [ep.id],
    )
    assert.deepEqual(rows, [{ fresh: true }])
    // Failing for 4 days with the last failure an hour ago: the streak goes on, past the limit.
    await streak(4, 1)
    assert.equal(await fail(), true)
  })

  it('prunes finished chains and attempts older than 30 days, never a pending chain', async () => {
    await t.db.query(
      `INSERT INTO webhook_deliveries (customer_id, event_id, event_type, target, state, updated_at)
       VALUES (gen_random_uuid(), 'evt_old_done', 'message.sent', 'x', 'succeeded', now() - interval '31 days'),
              (gen_random_uuid(), 'evt_old_pending', 'message.sent', 'x', 'pending', now() - interval '31 days'),
              (gen_random_uuid(), 'evt_new_done', 'message.sent', 'x', 'failed', now())`,
    )
    await t.db.query(
      `INSERT INTO webhook_attempts (delivery_id, customer_id, event_id, attempt, latency_ms, created_at)
       VALUES (1, gen_random_uuid(), 'evt_old_done', 1, 5, now() - interval '31 days'),
              (1, gen_random_uuid(), 'evt_new_done', 1, 5, now())`,
    )
    assert.equal(await pruneWebhookHistory(t.db), 2)
    const { rows } = await t.db.query<{ event_id: string }>(
      `SELECT event_id FROM webhook_deliveries WHERE event_id LIKE 'evt_%_%' AND target = 'x' ORDER BY event_id`,
    )
    assert.deepEqual(
      rows.map((r) => r.event_id),
      ['evt_new_done', 'evt_old_pending'],
    )
  })

  it('an unreadable bus payload is reported and dropped, and delivery goes on', async () => {
    await bus.publish('sms.status.nobody.sent', { id: 'x', customer_id: 'not-a-uuid' })
    await bus.publish('sms.deliver.normal', { id: 'nope' })
    await waitFor(
      () => errors.filter((e) => /unreadable payload/.test(e.message)).length === 2,
      'both reported',
    )
    assert.equal(await bus.pending('webhooks-status'), 0)
    assert.equal(await bus.pending('webhooks-queued'), 0)
  })
})
