// Claiming due webhook deliveries (PostgreSQL): oldest first; targets whose queues are full are
// skipped without starving the others; never more than a target's room; a row is claimed once.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { claimDue } from '../../../src/events/webhook-queue.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

describe('webhook delivery claims', () => {
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

  /** n due deliveries of a target, `ageS` seconds overdue (older first), plus one not yet due. */
  const seed = async (target: string, n: number, ageS: number) => {
    await db.query(
      `INSERT INTO webhook_deliveries (customer_id, event_id, event_type, target, next_attempt_at)
       SELECT gen_random_uuid(), $1 || '-' || i, 'message.sent', $1, now() - ($2 - i * 0.001) * interval '1 second'
         FROM generate_series(1, $3) AS i
       UNION ALL
       SELECT gen_random_uuid(), $1 || '-later', 'message.sent', $1, now() + interval '1 hour'`,
      [target, ageS, n],
    )
  }

  it('takes the oldest due first, or walks the targets when some are skipped', async () => {
    await seed('slow', 300, 60)
    await seed('a', 3, 10)
    await seed('b', 3, 5)
    const none = new Map<string, number>()
    const oldest = await claimDue(db, 5, none, 60_000, 5)
    assert.deepEqual(
      oldest.map((d) => d.target),
      ['slow', 'slow', 'slow', 'slow', 'slow'],
    )
    // 'slow' has a backlog ahead of everyone: skipping it still finds the others, 2 each at most.
    const full = new Map([['slow', 0]])
    const others = await claimDue(db, 10, full, 60_000, 2)
    assert.deepEqual(others.map((d) => d.event_id).sort(), ['a-1', 'a-2', 'b-1', 'b-2'])
    // Claimed rows are leased: not due again, so never claimed twice; what is left comes next.
    const rest = await claimDue(db, 10, full, 60_000, 2)
    assert.deepEqual(rest.map((d) => d.event_id).sort(), ['a-3', 'b-3'])
    assert.deepEqual(await claimDue(db, 10, full, 60_000, 2), [])
    // A row leased by another claim (or locked by one in flight) is not taken; with no target
    // full, the oldest first still takes a target's room at most (what this process may still hold of it).
    const again = await claimDue(db, 1000, new Map([['slow', 5]]), 60_000, 8)
    assert.equal(again.length, 5)
    assert.ok(again.every((d) => d.target === 'slow' && !d.event_id.endsWith('later')))
    assert.equal((await claimDue(db, 1000, none, 60_000, 8)).length, 8)
  })

  it('caps every target at its room even when the oldest due rows are all one slow target', async () => {
    await seed('dead', 600, 120)
    await seed('live', 2, 1)
    // 500 rows deep, all of them 'dead': 4 of those, not 500 held in memory past their lease.
    const first = await claimDue(db, 500, new Map(), 60_000, 4)
    assert.deepEqual(
      first.map((d) => d.target),
      ['dead', 'dead', 'dead', 'dead'],
    )
    // 'dead' is now full here: the walk finds 'live' behind its backlog, and takes no more of it.
    const next = await claimDue(db, 500, new Map([['dead', 0]]), 60_000, 4)
    assert.ok(next.every((d) => d.target !== 'dead'))
    assert.deepEqual(
      next
        .filter((d) => d.target === 'live')
        .map((d) => d.event_id)
        .sort(),
      ['live-1', 'live-2'],
    )
  })

  it('between walks, a full target is skipped from the due head; a head it fills falls back to the walk', async () => {
    await db.query('DELETE FROM webhook_deliveries')
    await seed('hot', 40, 30)
    await seed('c', 3, 29.99)
    await seed('d', 3, 29.98)
    const hotFull = new Map([['hot', 0]])
    // Interleaved with the hot backlog near the head: found there, without the walk.
    const between = await claimDue(db, 10, hotFull, 60_000, 2, { walk: false })
    assert.ok(between.every((d) => d.target !== 'hot'))
    assert.deepEqual(between.map((d) => d.event_id).sort(), ['c-1', 'c-2', 'd-1', 'd-2'])
    // 600 due rows of a full target ahead of everyone: the head finds nothing, the walk does.
    await seed('wall', 600, 300)
    await seed('e', 2, 1)
    const wallFull = new Map([
      ['wall', 0],
      ['hot', 0],
      ['c', 0],
      ['d', 0],
    ])
    const behind = await claimDue(db, 10, wallFull, 60_000, 2, { walk: false })
    assert.deepEqual(behind.map((d) => d.event_id).sort(), ['e-1', 'e-2'])
  })
})
