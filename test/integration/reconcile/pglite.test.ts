// The same checks on the embedded database (PGlite): the library directly, and `smsgw reconcile`
// with no database URL reading the data dir, as other commands do.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { Db } from '../../../src/db/db.ts'
import { migrate } from '../../../src/db/migrate.ts'
import { createPgliteDb } from '../../../src/db/pglite.ts'
import { applyStatusChanges } from '../../../src/events/status-writer.ts'
import { runMaintenance } from '../../../src/maintenance/maintenance.ts'
import { reconcile } from '../../../src/reconcile/reconcile.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { smsgwReconcile } from './helpers.ts'

/** Customers with accepted messages, a few of them failed before any carrier took them (refunded). */
async function fill(db: Db): Promise<string[]> {
  await migrate(db)
  await runMaintenance(db)
  const ids: string[] = []
  for (const credit of [1_000_000, 50_000])
    ids.push(...(await acceptMany(db, await fundedCustomer(db, { credit }), 5)))
  const { rows } = await db.query<{ id: string; created_at: Date }>(
    'SELECT id, created_at FROM messages WHERE id = ANY($1::uuid[])',
    [ids.slice(0, 3)],
  )
  await db.transaction((tx) =>
    applyStatusChanges(
      tx,
      rows.map((r) => ({
        messageId: r.id,
        createdAt: new Date(r.created_at).toISOString(),
        status: 'rejected' as const,
        unsent: true,
      })),
    ),
  )
  return ids
}

describe('reconcile on PGlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-reconcile-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('the library passes a consistent database and names a planted backward status', async () => {
    const db = await createPgliteDb()
    try {
      const ids = await fill(db)
      const clean = await reconcile({ db })
      assert.equal(clean.ok, true, JSON.stringify(clean.checks.filter((c) => !c.ok)))
      assert.deepEqual(clean.totals.byStatus, { queued: 7, rejected: 3 })
      assert.equal((await reconcile({ db, settled: true })).ok, false) // 7 queued, nothing running

      await db.query(
        `INSERT INTO message_events (message_id, customer_id, status)
         SELECT id, customer_id, 'sending' FROM messages WHERE id = $1`,
        [ids[0]],
      )
      const faulty = await reconcile({ db })
      assert.deepEqual(
        faulty.checks.filter((c) => !c.ok).map((c) => [c.name, c.samples]),
        [['statuses_monotone', [ids[0]]]],
      )
    } finally {
      await db.close()
    }
  })

  it('`smsgw reconcile` without a database URL checks the embedded data dir', async () => {
    const missing = await smsgwReconcile([], { SMSGW_DATA_DIR: join(dir, 'nothing-here') })
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /no database/)

    const db = await createPgliteDb(join(dir, 'pglite'))
    let ids: string[]
    try {
      ids = await fill(db)
    } finally {
      await db.close()
    }
    const ok = await smsgwReconcile([], { SMSGW_DATA_DIR: dir })
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /reconcile: PASS/)

    const again = await createPgliteDb(join(dir, 'pglite'))
    try {
      // A refund lost: the ledger row goes, the balance is put back as if it never came.
      await again.exec(`SET session_replication_role = replica;
        UPDATE customers c SET balance = c.balance - l.amount FROM ledger l
         WHERE l.customer_id = c.id AND l.kind = 'refund' AND l.message_id = '${ids[0]}';
        DELETE FROM ledger WHERE kind = 'refund' AND message_id = '${ids[0]}';
        SET session_replication_role = origin;`)
    } finally {
      await again.close()
    }
    const failed = await smsgwReconcile([], { SMSGW_DATA_DIR: dir })
    assert.equal(failed.code, 1, failed.stdout + failed.stderr)
    assert.match(failed.stdout, /^refunds_match_failures\s+FAIL\s+1\s/m)
    assert.match(failed.stdout, /reconcile: FAIL \(\d checks? failed: [a-z_, ]*refunds_match_failures/)
  })
})
