// The metrics the Grafana dashboard and the alerts need beyond the per-event counters (PostgreSQL):
// the outbox backlog per lane, the webhook backlog, and accept → delivered latency per priority.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Registry } from 'prom-client'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { countOutboxBacklog } from '../../../src/dispatch/outbox-backlog.ts'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import { countWebhookBacklog, registerWebhookBacklogGauge } from '../../../src/events/webhook-backlog.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('operations metrics', () => {
  let pg: FreshDatabase
  let db: Db

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 4 })
  })
  after(async () => {
    await db?.close()
    await pg?.drop()
  })

  it('counts the outbox backlog per lane, due rows only, up to the cap', async () => {
    const customer = await fundedCustomer(db)
    await acceptMany(db, customer, 7, 'bulk')
    await acceptMany(db, customer, 2, 'otp')
    // A scheduled message is not backlog until it is due.
    await db.query(`UPDATE outbox SET available_at = now() + interval '1 hour'
                     WHERE seq = (SELECT max(seq) FROM outbox WHERE priority = 'bulk')`)
    assert.equal(await countOutboxBacklog(db, 'bulk'), 6)
    assert.equal(await countOutboxBacklog(db, 'otp'), 2)
    assert.equal(await countOutboxBacklog(db, 'normal'), 0)
    assert.equal(await countOutboxBacklog(db, 'bulk', 4), 4)
  })

  it('counts pending webhook deliveries as due or scheduled, and exports them', async () => {
    await db.query(
      `INSERT INTO webhook_deliveries (customer_id, event_id, event_type, target, next_attempt_at, state)
       SELECT gen_random_uuid(), 'e' || i, 'message.sent', 't',
              CASE WHEN i <= 3 THEN now() - interval '1 second' ELSE now() + interval '1 hour' END,
              CASE WHEN i = 6 THEN 'succeeded' ELSE 'pending' END
         FROM generate_series(1, 6) AS i`,
    )
    assert.deepEqual(await countWebhookBacklog(db), { due: 3, scheduled: 2 })
    const registry = new Registry()
    registerWebhookBacklogGauge(registry, db)
    const text = await registry.metrics()
    assert.match(text, /^smsgw_webhook_backlog\{state="due"\} 3$/m)
    assert.match(text, /^smsgw_webhook_backlog\{state="scheduled"\} 2$/m)
  })

  it('reports committed forward moves with the priority, and not backward ones', async () => {
    const customer = await fundedCustomer(db)
    const [id] = await acceptMany(db, customer, 1, 'otp')
    assert.ok(id)
    const { rows } = await db.query<{ created_at: Date }>('SELECT created_at FROM messages WHERE id = $1', [
      id,
    ])
    assert.ok(rows[0])
    const createdAt = rows[0].created_at.toISOString()
    const seen: { status: string; priority: string; createdAt: string }[] = []
    const writer = createStatusWriter(db, { onApplied: (a) => seen.push(...a) })
    await writer.write({ messageId: id, createdAt, status: 'sent' })
    await writer.write({ messageId: id, createdAt, status: 'delivered' })
    await writer.write({ messageId: id, createdAt, status: 'sending' })
    await writer.drain()
    assert.deepEqual(seen, [
      { status: 'sent', priority: 'otp', createdAt },
      { status: 'delivered', priority: 'otp', createdAt },
    ])
  })
})
