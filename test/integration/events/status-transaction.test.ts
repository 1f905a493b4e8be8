// StatusWriter.transaction: work and status changes commit together (the worker's submitted mark
// with `sending` + `sent`, a receipt's match with the final status) or not at all, and a `sending`
// also written on its own (a slow submit) is stored once whichever commits first. Migration 0018: messages partitions leave room for HOT updates.

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

  it('creates messages partitions with fillfactor 70 and sets carrier_refs to 85 (migration 0018)', async () => {
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
        [r.relname === 'carrier_refs' ? 'fillfactor=85' : 'fillfactor=70'],
        r.relname,
      )
  })
})
