// StatusWriter.transaction: work and status changes commit together (the worker's submitted mark
// with `sending` + `sent`, a receipt's match with the final status) or not at all, and a `sending`
// also written on its own (a slow submit) is stored once whichever commits first. A group's
// messages are looked up in the partitions of their days only, whatever the precision of the
// created_at given. Migrations 0018, 0023: messages partitions leave room for HOT updates.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db, Queryable } from '../../../src/db/db.ts'
import { ensurePartitions } from '../../../src/db/partitions.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createStatusWriter, type StatusChange } from '../../../src/events/status-writer.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('status changes in the caller’s transaction', () => {
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

  const messages = async (n: number) => {
    const customer = await fundedCustomer(db)
    const ids = await acceptMany(db, customer, n)
    const { rows } = await db.query<{ id: string; created_at: Date }>(
      'SELECT id, created_at FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id',
      [ids],
    )
    return rows.map((r) => ({ messageId: r.id, createdAt: r.created_at.toISOString() }))
  }
  const events = async (id: string) =>
    (
      await db.query<{ status: string }>(
        'SELECT status FROM message_events WHERE message_id = $1 ORDER BY id',
        [id],
      )
    ).rows.map((r) => r.status)

  const parked = async (carrierId: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM parked_receipts WHERE carrier_id = $1',
          [carrierId],
        )
      ).rows[0]?.n,
    )
  const park = (tx: Queryable, carrierId: string) =>
    tx.query(`INSERT INTO parked_receipts (carrier, carrier_id, status) VALUES ('c', $1, 'delivered')`, [
      carrierId,
    ])

  it('commits the work and the changes together', async () => {
    const [m] = await messages(1)
    const writer = createStatusWriter(db)
    const result = await writer.transaction(async (tx) => {
      await park(tx, 'together')
      return {
        result: 'done',
        changes: [
          { ...m!, status: 'sending' },
          { ...m!, status: 'sent', detail: { carrier: 'x', parts: 1 } },
        ] satisfies StatusChange[],
      }
    })
    assert.equal(result, 'done')
    assert.equal(await parked('together'), 1)
    assert.deepEqual(await events(m!.messageId), ['sending', 'sent'])
    const { rows } = await db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [
      m!.messageId,
    ])
    assert.equal(rows[0]?.status, 'sent')
  })

  it('commits nothing when the work fails', async () => {
    const [m] = await messages(1)
    const writer = createStatusWriter(db)
    await assert.rejects(
      writer.transaction(async (tx) => {
        await park(tx, 'failed')
        await tx.query(`UPDATE messages SET status = 'sending' WHERE id = $1`, [m!.messageId])
        throw new Error('work failed')
      }),
      /work failed/,
    )
    assert.equal(await parked('failed'), 0)
    assert.deepEqual(await events(m!.messageId), [])
    const { rows } = await db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [
      m!.messageId,
    ])
    assert.equal(rows[0]?.status, 'queued')
  })

  it('stores `sending` once when it is also written on its own, whichever commits first', async () => {
    const ms = await messages(40)
    const writer = createStatusWriter(db)
    await Promise.all(
      ms.flatMap((m, i) => {
        const alone = writer.write({ ...m, status: 'sending' })
        const together = writer.transaction(async () => ({
          result: undefined,
          changes: [
            { ...m, status: 'sending' },
            { ...m, status: 'sent' },
          ] satisfies StatusChange[],
        }))
        return i % 2 ? [alone, together] : [together, alone]
      }),
    )
    for (const m of ms) assert.deepEqual(await events(m.messageId), ['sending', 'sent'])
  })

  it('applies a group whose messages are on two days, created_at given to the microsecond', async () => {
    const [accepted] = await messages(1)
    // Two copies of an accepted message: one a day earlier (the partition exists: ensurePartitions
    // keeps a day behind), one 987 µs later, the group's latest, given with its microseconds.
    const { rows } = await db.query<{ id: string; created_at: string }>(
      `INSERT INTO messages (id, created_at, customer_id, to_number, from_sender, body, country, encoding, segments,
                             price_micros, currency, priority, expires_at, status, status_updated_at)
       SELECT gen_random_uuid(), created_at + d, customer_id, to_number, from_sender, body, country, encoding,
              segments, price_micros, currency, priority, expires_at, status, status_updated_at
         FROM messages, unnest(ARRAY[interval '-1 day', interval '987 microseconds']) AS d
        WHERE id = $1
       RETURNING id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at`,
      [accepted?.messageId],
    )
    const both = rows.map((r) => ({ messageId: r.id, createdAt: r.created_at }))
    assert.equal(both.length, 2)
    assert.ok(both.some((m) => /\.\d{3}987Z$/.test(m.createdAt)))
    const writer = createStatusWriter(db)
    // One group: the writer batches what is submitted together.
    await Promise.all(both.map((m) => writer.write({ ...m, status: 'sending' })))
    for (const m of both) assert.deepEqual(await events(m.messageId), ['sending'])
    const { rows: statuses } = await db.query<{ status: string }>(
      'SELECT status FROM messages WHERE id = ANY($1::uuid[])',
      [both.map((m) => m.messageId)],
    )
    assert.deepEqual(
      statuses.map((r) => r.status),
      ['sending', 'sending'],
    )
  })

  it('creates messages partitions with fillfactor 50 and sets carrier_refs to 60 (migrations 0018, 0023)', async () => {
    await ensurePartitions(db)
    const { rows } = await db.query<{ relname: string; reloptions: string[] | null }>(
      `SELECT c.relname, c.reloptions FROM pg_class c
        WHERE c.relname = 'carrier_refs'
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'messages'::regclass)`,
    )
    assert.ok(rows.length > 1)
    for (const r of rows)
      assert.deepEqual(
        r.reloptions,
        [r.relname === 'carrier_refs' ? 'fillfactor=60' : 'fillfactor=50'],
        r.relname,
      )
  })
})
