// A receipt's match and its single-part message's final status are ONE autocommitted statement
// (issue 12): no transaction, one round trip. A message in a batch, or older than the days the
// statement reads, moves through the status writer after it (its batch is settled there); a status
// never moves back; concurrent groups and status writes lock messages in one order.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Receipt } from '../../../src/carriers/carrier.ts'
import type { Db } from '../../../src/db/db.ts'
import { ensurePartitions } from '../../../src/db/partitions.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createReceiptHandler } from '../../../src/delivery/receipts.ts'
import { newId } from '../../../src/domain/ids.ts'
import { type AppliedChange, createStatusWriter } from '../../../src/events/status-writer.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('a receipt matched in one statement', () => {
  let database: FreshDatabase
  let db: Db
  before(async () => {
    database = await freshDatabase()
    db = createPostgresDb({ url: database.url, poolSize: 6 })
  })
  after(async () => {
    await db?.close()
    await database?.drop()
  })

  /** n queued messages, each sent to carrier `c` as one part with carrier id `<prefix>-<i>`. */
  const sentMessages = async (n: number, prefix: string) => {
    const customer = await fundedCustomer(db)
    const ids = await acceptMany(db, customer, n)
    await db.query(
      `INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts)
       SELECT 'c', $2 || '-' || (row_number() OVER (ORDER BY m.id) - 1), m.id, m.created_at, m.customer_id, 1, 1
         FROM messages m WHERE m.id = ANY($1::uuid[])`,
      [ids, prefix],
    )
    return { customer, ids: ids.sort() }
  }
  const statusOf = async (ids: string[]) =>
    (
      await db.query<{ status: string }>(
        'SELECT status FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id',
        [ids],
      )
    ).rows.map((r) => r.status)
  const eventsOf = async (id: string) =>
    (
      await db.query<{ status: string }>(
        'SELECT status FROM message_events WHERE message_id = $1 ORDER BY id',
        [id],
      )
    ).rows.map((r) => r.status)

  /** A handler over a db that counts the queries and transactions it is asked for. */
  const counted = () => {
    const count = { queries: 0, transactions: 0 }
    const seen: AppliedChange[] = []
    const counting: Db = {
      ...db,
      kind: db.kind,
      query: (sql, params, o) => {
        count.queries++
        return db.query(sql, params, o)
      },
      exec: (sql) => db.exec(sql),
      transaction: (fn) => {
        count.transactions++
        return db.transaction(fn)
      },
      close: () => db.close(),
    }
    const statuses = createStatusWriter(counting, { onApplied: (a) => seen.push(...a) })
    return { handler: createReceiptHandler({ db: counting, statuses }), count, seen }
  }
  const receipt = (carrierId: string, status: Receipt['status']): Receipt => ({ carrierId, status })

  it('moves single-part messages to their final status with one statement and no transaction', async () => {
    const { ids } = await sentMessages(3, 'one')
    const { handler, count, seen } = counted()
    await Promise.all([
      handler.handle('c', receipt('one-0', 'delivered')),
      handler.handle('c', receipt('one-1', 'undelivered')),
      handler.handle('c', receipt('one-2', 'accepted')),
    ])
    const byCarrierId = (
      await db.query<{ carrier_id: string; status: string }>(
        `SELECT r.carrier_id, m.status FROM carrier_refs r JOIN messages m ON m.id = r.message_id
          WHERE r.carrier_id LIKE 'one-%' ORDER BY r.carrier_id`,
      )
    ).rows
    assert.deepEqual(byCarrierId, [
      { carrier_id: 'one-0', status: 'delivered' },
      { carrier_id: 'one-1', status: 'undelivered' },
      { carrier_id: 'one-2', status: 'queued' },
    ])
    for (const id of ids) {
      const s = (await statusOf([id]))[0]
      assert.deepEqual(await eventsOf(id), s === 'queued' ? [] : [s])
    }
    assert.equal(count.transactions, 0)
    // The group commit may split the three receipts into up to three groups: one statement each.
    assert.ok(count.queries >= 1 && count.queries <= 3, `${count.queries} queries`)
    assert.deepEqual(seen.map((a) => a.status).sort(), ['delivered', 'undelivered'])
  })

  it('never moves a status back: a second receipt for a final message changes only its part', async () => {
    const { ids } = await sentMessages(1, 'back')
    const { handler } = counted()
    await handler.handle('c', receipt('back-0', 'delivered'))
    await handler.handle('c', receipt('back-0', 'undelivered'))
    assert.deepEqual(await statusOf(ids), ['delivered'])
    assert.deepEqual(await eventsOf(ids[0] as string), ['delivered'])
    const { rows } = await db.query<{ receipt_status: string }>(
      `SELECT receipt_status FROM carrier_refs WHERE carrier_id = 'back-0'`,
    )
    assert.equal(rows[0]?.receipt_status, 'undelivered')
  })

  it('settles a batch through the status writer: its messages move and it completes', async () => {
    const { customer, ids } = await sentMessages(2, 'batch')
    const batchId = newId()
    await db.query(
      `INSERT INTO batches (id, customer_id, created_at, from_sender, body, priority, total, accepted, rejected,
                            price_micros, currency, open_messages)
       VALUES ($1, $2, now(), 'ACME', 'hi', 'normal', 2, 2, '[]', 15800, 'USD', 2)`,
      [batchId, customer],
    )
    await db.query('UPDATE messages SET batch_id = $1 WHERE id = ANY($2::uuid[])', [batchId, ids])
    const { handler } = counted()
    await handler.handle('c', receipt('batch-0', 'delivered'))
    await handler.handle('c', receipt('batch-1', 'delivered'))
    assert.deepEqual(await statusOf(ids), ['delivered', 'delivered'])
    for (const id of ids) assert.deepEqual(await eventsOf(id), ['delivered'])
    const { rows } = await db.query<{ open_messages: number; completed: boolean; events: string }>(
      `SELECT b.open_messages, b.completed_at IS NOT NULL AS completed,
              (SELECT count(*) FROM customer_events e WHERE e.customer_id = b.customer_id AND e.type = 'batch.completed')::text AS events
         FROM batches b WHERE b.id = $1`,
      [batchId],
    )
    assert.deepEqual(rows[0], { open_messages: 0, completed: true, events: '1' })
  })

  it('moves a message older than the days the statement reads, through the status writer', async () => {
    await ensurePartitions(db, Date.now(), 7, 6)
    const { ids } = await sentMessages(1, 'old')
    // The same message five days earlier (its part points at the old copy).
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO messages (id, created_at, customer_id, to_number, from_sender, body, country, encoding, segments,
                             price_micros, currency, priority, expires_at, status, status_updated_at)
       SELECT gen_random_uuid(), created_at - interval '5 days', customer_id, to_number, from_sender, body, country,
              encoding, segments, price_micros, currency, priority, expires_at, status, status_updated_at
         FROM messages WHERE id = $1
       RETURNING id`,
      [ids[0]],
    )
    const old = rows[0]?.id as string
    await db.query(
      `UPDATE carrier_refs r SET message_id = m.id, message_created_at = m.created_at
         FROM messages m WHERE m.id = $1 AND r.carrier_id = 'old-0'`,
      [old],
    )
    const { handler } = counted()
    await handler.handle('c', receipt('old-0', 'delivered'))
    assert.deepEqual(await statusOf([old]), ['delivered'])
    assert.deepEqual(await eventsOf(old), ['delivered'])
  })

  it('concurrent receipt groups and status writes over the same messages end with one final event each', async () => {
    const { ids } = await sentMessages(300, 'race')
    const { rows } = await db.query<{ id: string; created_at: Date; carrier_id: string }>(
      `SELECT m.id, m.created_at, r.carrier_id FROM messages m JOIN carrier_refs r ON r.message_id = m.id
        WHERE m.id = ANY($1::uuid[])`,
      [ids],
    )
    const { handler } = counted()
    const writer = createStatusWriter(db)
    // Receipts in one order, `sent` writes (sorted groups) beside them: any lock-order cycle would
    // end in a deadlock error here.
    await Promise.all([
      ...rows.map((r) => handler.handle('c', receipt(r.carrier_id, 'delivered'))),
      ...[...rows]
        .reverse()
        .map((r) => writer.write({ messageId: r.id, createdAt: r.created_at.toISOString(), status: 'sent' })),
    ])
    assert.deepEqual(
      await statusOf(ids),
      ids.map(() => 'delivered'),
    )
    const { rows: events } = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM message_events WHERE message_id = ANY($1::uuid[]) AND status = 'delivered'`,
      [ids],
    )
    assert.equal(events[0]?.n, '300')
  })
})
