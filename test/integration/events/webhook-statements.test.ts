// What the webhooks role costs PostgreSQL per webhook (issue 10: the role must keep up with the
// e2e delivery rate). Attempts running at once share their reads (endpoints, events) and their
// record (attempt rows, chain updates, failing streaks): a burst of webhooks to one endpoint costs
// a fraction of a statement each, where one attempt at a time cost about six (endpoint, event,
// message, BEGIN, record, COMMIT) plus the claims. Counted, not timed.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { queuedEventId } from '../../../src/events/event-ids.ts'
import { createWebhookDelivery } from '../../../src/events/webhook-delivery.ts'
import { enqueueEvents } from '../../../src/events/webhook-queue.ts'
import { createWebhookSender } from '../../../src/events/webhook-sender.ts'
import { createCustomer, sendBody, type TestApp } from '../../helpers/app.ts'
import { waitFor } from '../../helpers/wait.ts'
import type { Receiver } from '../../helpers/webhook-receiver.ts'
import { recordingDb, type WebhookTestApp, webhookTestApp } from '../../helpers/webhooks.ts'

describe('webhooks: statements per webhook', () => {
  let t: TestApp
  let rx: Receiver

  let w: WebhookTestApp
  let KEY: Buffer

  before(async () => {
    w = await webhookTestApp()
    ;({ t, rx, key: KEY } = w)
  })
  after(() => w?.close())

  it('a burst of webhooks to one endpoint costs well under two statements each', async (tc) => {
    const c = await createCustomer(t.app, { name: 'burst', credit: '100.00' })
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: c.auth,
      payload: { url: rx.url('/burst') },
    })
    assert.equal(res.statusCode, 201, res.body)
    const N = 300
    const ids: string[] = []
    for (let i = 0; i < N; i++) {
      const sent = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c.auth,
        payload: sendBody(),
      })
      assert.equal(sent.statusCode, 202, sent.body)
      ids.push((sent.json() as { id: string }).id)
    }
    const queued = await enqueueEvents(
      t.db,
      ids.map((id) => ({
        customerId: c.id,
        eventId: queuedEventId(id),
        type: 'message.queued',
        messageId: id,
      })),
    )
    assert.equal(queued, N)
    const counting = recordingDb(t.db)
    const bus = createMemoryBus()
    const sender = createWebhookSender({ allowInsecure: true })
    const delivery = createWebhookDelivery({
      allowInsecure: true,
      db: counting.db,
      bus,
      sender,
      key: () => KEY,
    })
    await delivery.start()
    try {
      await waitFor(() => new Set(rx.on('/burst').map((r) => r.event.id)).size === N, 'every webhook', 60_000)
      await waitFor(
        async () => {
          const { rows } = await t.db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM webhook_deliveries WHERE customer_id = $1 AND state = 'succeeded'`,
            [c.id],
          )
          return rows[0]?.n === String(N)
        },
        'every chain recorded',
        60_000,
      )
    } finally {
      await delivery.stop()
      await sender.close()
      await bus.close()
    }
    const perWebhook = counting.count.n / N
    tc.diagnostic(`${counting.count.n} statements for ${N} webhooks: ${perWebhook.toFixed(2)} per webhook`)
    console.error(`webhook statements: ${counting.count.n} for ${N} webhooks (${perWebhook.toFixed(2)} each)`)
    const { rows } = await t.db.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM webhook_attempts WHERE customer_id = $1',
      [c.id],
    )
    assert.equal(rows[0]?.n, String(N), 'one attempt logged per webhook')
    assert.ok(perWebhook < 2, `${perWebhook} statements per webhook`)
  })
})
