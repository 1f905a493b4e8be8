// The receipt-timeout sweep reads deliveries in the order their validity ends, from a saved
// position: each is looked at once (not every submitted delivery of 10 days each minute), ties of
// one group commit's expiry are neither skipped nor read forever, and a sweep stops at its limit
// and the next one goes on.

import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { closeUnreportedMessages } from '../../../src/delivery/receipt-timeout.ts'
import { createStatusWriter, type StatusWriter } from '../../../src/events/status-writer.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('receipt-timeout sweep', () => {
  let fresh: FreshDatabase
  let db: Db
  let statuses: StatusWriter
  let customer: string

  before(async () => {
    fresh = await freshDatabase()
    db = createPostgresDb({ url: fresh.url, poolSize: 4 })
    statuses = createStatusWriter(db)
    customer = await fundedCustomer(db)
  })
  after(async () => {
    await statuses.drain()
    await db.close()
    await fresh.drop()
  })
  beforeEach(() => db.query(`UPDATE deliveries SET state = 'final'`))

  /** n messages the carrier took (`sent`), all ending their validity at `expiresSql`. */
  async function sent(n: number, expiresSql: string): Promise<string[]> {
    const ids = await acceptMany(db, customer, n)
    await db.query(`UPDATE messages SET expires_at = ${expiresSql} WHERE id = ANY($1::uuid[])`, [ids])
    await db.query(
      `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, lease_until, carrier, expires_at)
       SELECT id, created_at, customer_id, 'submitted', now(), 'primary', expires_at
         FROM messages WHERE id = ANY($1::uuid[])`,
      [ids],
    )
    await Promise.all(ids.map((id) => statusOf(id).then((s) => write(id, s))))
    return ids
  }
  async function statusOf(id: string): Promise<{ created_at: Date }> {
    const { rows } = await db.query<{ created_at: Date }>('SELECT created_at FROM messages WHERE id = $1', [
      id,
    ])
    return rows[0] as { created_at: Date }
  }
  const write = (id: string, m: { created_at: Date }, status: 'sent' | 'delivered' = 'sent') =>
    statuses.write({ messageId: id, createdAt: new Date(m.created_at).toISOString(), status })
  async function countByStatus(ids: string[]): Promise<Record<string, number>> {
    const { rows } = await db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM messages WHERE id = ANY($1::uuid[]) GROUP BY status',
      [ids],
    )
    return Object.fromEntries(rows.map((r) => [r.status, r.n]))
  }
  const sweep = (o: { chunk?: number; limit?: number; graceS?: number } = {}) =>
    closeUnreportedMessages({ db, statuses, graceS: 3600, ...o })

  it('closes every message of one expiry instant, across chunks, and not those still valid', async () => {
    const late = await sent(12, `date_trunc('second', now()) - interval '2 hours'`)
    const young = await sent(3, `now() + interval '1 hour'`)
    const delivered = await sent(2, `date_trunc('second', now()) - interval '2 hours'`)
    for (const id of delivered) await write(id, await statusOf(id), 'delivered')
    await statuses.drain()
    assert.equal(await sweep({ chunk: 5 }), 12)
    assert.deepEqual(await countByStatus(late), { unknown: 12 })
    assert.deepEqual(await countByStatus(young), { sent: 3 })
    assert.deepEqual(await countByStatus(delivered), { delivered: 2 })
    const { rows } = await db.query<{ behind: boolean }>(
      `SELECT mark > now() - interval '3601 seconds' AS behind FROM receipt_sweep_position`,
    )
    assert.equal(rows[0]?.behind, true, 'the position moved up to the cutoff')
    assert.equal(await sweep({ chunk: 5 }), 0, 'nothing is read twice')
  })

  it('a sweep stops at its limit and the next one goes on from there', async () => {
    // After the first test's sweep: validity ended 50 minutes ago, grace 30 minutes.
    const ids = await sent(9, `now() - interval '50 minutes'`)
    await statuses.drain()
    const o = { chunk: 4, limit: 4, graceS: 1800 }
    assert.equal(await sweep(o), 4)
    assert.equal(await sweep(o), 4)
    assert.equal(await sweep(o), 1)
    assert.deepEqual(await countByStatus(ids), { unknown: 9 })
  })

  it('a message whose validity ends later is closed by a later sweep', async () => {
    const ids = await sent(2, `now() - interval '59 minutes'`)
    await statuses.drain()
    assert.equal(await sweep(), 0, 'within the grace period')
    // Time passes: the cutoff (now − grace) moves past their validity's end.
    assert.equal(await sweep({ graceS: 3000 }), 2)
    assert.deepEqual(await countByStatus(ids), { unknown: 2 })
  })

  it('stops before a submit still on its way, and closes it once it is recorded', async () => {
    const ids = (await sent(3, `date_trunc('second', now()) - interval '40 minutes'`)).sort()
    await statuses.drain()
    await db.query(`UPDATE deliveries SET state = 'submitting', updated_at = now() WHERE message_id = $1`, [
      ids[1],
    ])
    assert.equal(await sweep({ graceS: 1200 }), 1, 'only the one before the submit on its way')
    await db.query(`UPDATE deliveries SET state = 'submitted' WHERE message_id = $1`, [ids[1]])
    assert.equal(await sweep({ graceS: 1200 }), 2)
    assert.deepEqual(await countByStatus(ids), { unknown: 3 })
  })
})
