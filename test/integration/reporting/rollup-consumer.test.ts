// The rollup role end to end on both buses: accepts and status changes reach GET /v1/usage's
// rollups through the relay and the consumer; events are acked only after the recompute commits,
// and a pass that fails leaves them to be redelivered.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createStatusEventRelay } from '../../../src/events/relay.ts'
import { createRollupConsumer, ROLLUP_DURABLE } from '../../../src/reporting/rollup-consumer.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import { applyChanges, groupByRows, rollupRows } from './traffic.ts'

const buses: Record<string, () => Promise<{ bus: Bus; cleanup(): Promise<void> }>> = {
  memory: async () => {
    const bus = createMemoryBus()
    return { bus, cleanup: () => bus.close() }
  },
  nats: async () => {
    const id = randomBytes(5).toString('hex')
    const stream = `TEST_ROLL_${id}`
    const bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: `roll_${id}` })
    return {
      bus,
      async cleanup() {
        await bus.close()
        await deleteStream(stream)
      },
    }
  },
}

for (const [name, make] of Object.entries(buses)) {
  describe(`rollup consumer (${name} bus)`, () => {
    let fresh: FreshDatabase
    let db: Db
    let bus: Bus
    let cleanup: () => Promise<void>
    before(async () => {
      fresh = await freshDatabase()
      db = createPostgresDb({ url: fresh.url, poolSize: 6 })
      ;({ bus, cleanup } = await make())
    })
    after(async () => {
      await cleanup?.()
      await db?.close()
      await fresh?.drop()
    })

    it('accepts and status events reach the rollups; events are acked after the pass commits', async (t) => {
      const errors: unknown[] = []
      let published = 0
      const relay = createStatusEventRelay({
        db,
        bus,
        onPublished: (n) => {
          published += n
        },
        onError: (e) => errors.push(e),
      })
      // A long interval: the test drives passes itself.
      const rollups = createRollupConsumer({ db, bus, intervalMs: 3_600_000, onError: (e) => errors.push(e) })
      await rollups.start()
      // Stopped even when an assertion fails: their timers would keep the test file alive.
      t.after(async () => {
        await rollups.stop()
        await relay.stop()
      })
      const customer = await fundedCustomer(db)
      const ids = await acceptMany(db, customer, 30)
      await rollups.pass()
      assert.deepEqual(
        (await rollupRows(db, 'usage_day', [customer])).map((r) => [r.status, r.messages]),
        [['queued', '30']],
      )

      const { rows: times } = await db.query<{ id: string; created_at: Date }>(
        'SELECT id::text, created_at FROM messages WHERE id = ANY($1::uuid[])',
        [ids.slice(0, 10)],
      )
      const failed = times.map((t) => ({
        message: {
          id: t.id,
          createdAt: t.created_at.getTime(),
          customerId: customer,
          country: 'US',
          priority: 'normal',
          segments: 1,
          priceMicros: 7900,
        },
        status: 'failed' as const,
        refund: true,
      }))
      await applyChanges(db, failed)
      // The relay publishes only below every running transaction's xid (other tests' too): pass until it has.
      await waitFor(
        async () => {
          await relay.pass()
          return published === 10 && (await bus.pending(ROLLUP_DURABLE)) > 0
        },
        'events held unacked',
        30_000,
      )
      // The 10 events travel in batches (bus messages): a few at most, all held unacked.
      const held = await bus.pending(ROLLUP_DURABLE)
      assert.ok(held >= 1 && held <= 10, `${held} bus messages held`)
      // A pass that cannot commit leaves them to be redelivered.
      await db.query('ALTER TABLE usage_minute RENAME TO usage_minute_away')
      await assert.rejects(rollups.pass())
      assert.equal(await bus.pending(ROLLUP_DURABLE), held)
      await db.query('ALTER TABLE usage_minute_away RENAME TO usage_minute')
      await waitFor(
        async () => {
          await rollups.pass()
          return (await bus.pending(ROLLUP_DURABLE)) === 0
        },
        'events acked after a pass committed',
        15_000,
      )
      assert.deepEqual(
        await rollupRows(db, 'usage_minute', [customer]),
        await groupByRows(db, 60, [customer]),
      )
      assert.deepEqual(
        (await rollupRows(db, 'usage_day', [customer])).map((r) => [r.status, r.messages, r.cost_micros]),
        [
          ['failed', '10', '0'],
          ['queued', '20', String(20 * 7900)],
        ],
      )
      assert.deepEqual(errors, [])
    })
  })
}
