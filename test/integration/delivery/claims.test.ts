import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { claimDelivery, claimNew, markSubmitting, unmarkSubmitting } from '../../../src/delivery/claims.ts'
import { newId } from '../../../src/domain/ids.ts'
import type { DeliveryJob } from '../../../src/domain/message.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

const job = (): DeliveryJob => ({
  id: newId(),
  created_at: new Date().toISOString(),
  customer_id: newId(),
  to: '+14155550123',
  from: 'ACME',
  body: 'hi',
  encoding: 'GSM-7',
  segments: 1,
  price_micros: 7900,
  priority: 'normal',
  country: 'US',
  expires_at: new Date(Date.now() + 3_600_000).toISOString(),
})

describe('delivery claims', () => {
  let pg: FreshDatabase
  let db: Db
  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 2 })
  })
  after(async () => {
    await db?.close()
    await pg?.drop()
  })

  it('a worker whose claim was taken over (its lease ran out) can no longer mark it submitting', async () => {
    const j = job()
    const first = await claimDelivery(db, j, 60_000)
    assert.deepEqual(first, { kind: 'claimed', attempt: 1 })
    assert.equal((await claimDelivery(db, j, 60_000)).kind, 'busy', 'a live claim is not taken')
    // The first worker stalls past its lease; a second worker takes the message over.
    await db.query(`UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE message_id = $1`, [
      j.id,
    ])
    assert.deepEqual(await claimDelivery(db, j, 60_000), { kind: 'claimed', attempt: 2 })
    assert.equal(
      (await markSubmitting(db, [{ id: j.id, attempt: 1 }])).size,
      0,
      'the stale owner may not send',
    )
    assert.ok((await markSubmitting(db, [{ id: j.id, attempt: 2 }])).has(j.id), 'the new owner may')
  })

  const state = async (id: string) =>
    (
      await db.query<{ state: string; attempts: number }>(
        'SELECT state, attempts FROM deliveries WHERE message_id = $1',
        [id],
      )
    ).rows[0]
  const expire = (id: string) =>
    db.query(`UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE message_id = $1`, [id])

  it('a claim made with its mark takes a new message or a dead claim, nothing else', async () => {
    const fresh = job()
    assert.equal((await claimNew(db, [fresh], 60_000, 'submitting')).get(fresh.id), 1)
    assert.deepEqual(await state(fresh.id), { state: 'submitting', attempts: 1 })
    // A dead worker's claim (lease over, never marked) is taken over, and marked in the same write.
    const dead = job()
    await claimNew(db, [dead], 60_000)
    await expire(dead.id)
    assert.equal((await claimNew(db, [dead], 60_000, 'submitting')).get(dead.id), 2)
    assert.deepEqual(await state(dead.id), { state: 'submitting', attempts: 2 })
    // A live claim, a dead worker's mark (ambiguous), a submitted message: not taken.
    const live = job()
    await claimNew(db, [live], 60_000)
    const ambiguous = job()
    await claimNew(db, [ambiguous], 60_000, 'submitting')
    await expire(ambiguous.id)
    assert.equal((await claimNew(db, [live, ambiguous, fresh], 60_000, 'submitting')).size, 0)
    assert.deepEqual(await state(live.id), { state: 'claimed', attempts: 1 })
    assert.deepEqual(await state(ambiguous.id), { state: 'submitting', attempts: 1 })
    assert.equal((await claimDelivery(db, ambiguous, 60_000)).kind, 'ambiguous')
  })

  it("only the mark's own attempt takes it back", async () => {
    const j = job()
    await claimNew(db, [j], 60_000, 'submitting')
    await unmarkSubmitting(db, j.id, 2)
    assert.deepEqual(
      await state(j.id),
      { state: 'submitting', attempts: 1 },
      "another attempt's unmark is a no-op",
    )
    await unmarkSubmitting(db, j.id, 1)
    assert.deepEqual(await state(j.id), { state: 'claimed', attempts: 1 })
  })
})
