import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { appendEntry } from '../../../src/accounts/ledger.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { applyStatusChanges } from '../../../src/events/status-writer.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import {
  acceptOne,
  cloneDatabase,
  reconcileJson,
  seeded,
  smsgwReconcile,
  withClient,
  withDb,
} from './helpers.ts'
import { populate } from './populate.ts'

// `smsgw reconcile` passes on a database the real pipeline filled, and fails — naming the check —
// on a copy of it with one fault planted.
describe('smsgw reconcile (PostgreSQL, pipeline-filled database)', () => {
  let clean: FreshDatabase
  let sim: CarrierSim
  const scratch: FreshDatabase[] = []

  before(async () => {
    clean = await freshDatabase()
    sim = await createCarrierSim({ random: seeded(7) })
    await populate(clean.url, sim)
  })
  after(async () => {
    await sim?.close()
    for (const db of scratch) await db.drop()
    await clean?.drop()
  })

  /** A copy of the clean database with a fault planted by `plant`. */
  const planted = async (plant: (url: string) => Promise<unknown>) => {
    const db = await cloneDatabase(clean)
    scratch.push(db)
    await plant(db.url)
    return db.url
  }
  /** `reconcile --json --settled` exits 1 with `check` the only failure; returns that check. */
  const failsOnly = async (url: string, check: string, ...args: string[]) => {
    const { code, report, failed } = await reconcileJson(url, '--settled', ...args)
    assert.equal(code, 1)
    assert.deepEqual(failed, [check])
    return report.checks.find((c) => c.name === check)
  }

  it('the clean database has every kind of outcome the checks look at', async () => {
    const { rows } = await withClient(clean.url, (c) =>
      c.query<{ status: string; n: number; refunds: number }>(
        `SELECT m.status, count(*)::int AS n,
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund'))::int AS refunds
           FROM messages m GROUP BY m.status ORDER BY m.status`,
      ),
    )
    const by = Object.fromEntries(rows.map((r) => [r.status, r]))
    assert.ok((by.delivered?.n ?? 0) > 0 && (by.undelivered?.n ?? 0) > 0, JSON.stringify(rows))
    assert.deepEqual([by.rejected?.n, by.rejected?.refunds], [5, 5])
    assert.deepEqual([by.failed?.n, by.failed?.refunds], [5, 5])
    assert.equal(by.scheduled?.n, 1)
  })

  it('passes every check: exit 0, a PASS table, and the JSON report', async () => {
    const sims = ['--sim', `http://127.0.0.1:${sim.httpPort}`]
    const table = await smsgwReconcile(['--database-url', clean.url, '--settled', ...sims])
    assert.equal(table.code, 0, table.stdout + table.stderr)
    assert.match(table.stdout, /^check\s+result\s+found\s+detail$/m)
    assert.match(table.stdout, /^ledger_chain\s+PASS\s+0\s/m)
    assert.match(table.stdout, /\nreconcile: PASS\n?$/)

    const { code, report } = await reconcileJson(clean.url, '--settled', ...sims)
    assert.equal(code, 0)
    assert.equal(report.ok, true)
    assert.deepEqual(
      report.checks.map((c) => [c.name, c.ok, c.found]),
      [
        'ledger_matches_balance',
        'no_negative_balance',
        'ledger_chain',
        'charge_per_message',
        'refunds_match_failures',
        'nothing_lost',
        'no_double_send',
        'statuses_monotone',
        'append_only_triggers',
        'webhooks_delivered',
        'usage_matches_ledger',
        'batches_consistent',
        'cancels_unsent',
        'opt_outs_honoured',
      ].map((n) => [n, true, 0]),
    )
    assert.equal(report.totals.messages, 39)
    assert.equal(report.totals.pending, 1) // the scheduled one
    assert.equal(report.totals.customers, 2)
    assert.match(
      report.checks.find((c) => c.name === 'no_double_send')?.detail ?? '',
      /28 ids accepted, 0 more than once/,
    )
  })

  it('(a) a ledger row deleted: exit 1 naming the balance, chain and charge checks', async () => {
    const url = await planted((u) =>
      withClient(
        u,
        (c) => c.query(`DELETE FROM ledger WHERE id = (SELECT max(id) FROM ledger WHERE kind = 'charge')`),
        {
          replica: true,
        },
      ),
    )
    const { code, failed } = await reconcileJson(url, '--settled')
    assert.equal(code, 1)
    assert.deepEqual(failed, ['ledger_matches_balance', 'ledger_chain', 'charge_per_message'])
  })

  it('(a) a ledger row deleted and the balance made to match: the chain and the charge check still see it', async () => {
    const url = await planted((u) =>
      withClient(
        u,
        (c) =>
          c.query(`WITH d AS (DELETE FROM ledger WHERE id = (SELECT min(id) FROM ledger WHERE kind = 'charge')
                              RETURNING customer_id, amount)
                   UPDATE customers c SET balance = c.balance - d.amount FROM d WHERE c.id = d.customer_id`),
        { replica: true },
      ),
    )
    const { code, failed } = await reconcileJson(url, '--settled')
    assert.equal(code, 1)
    assert.deepEqual(failed, ['ledger_chain', 'charge_per_message'])
  })

  it('(a) an append-only trigger disabled (on the ledger and on one partition of messages)', async () => {
    const url = await planted((u) =>
      withClient(u, async (c) => {
        await c.query('ALTER TABLE ledger DISABLE TRIGGER ledger_append_only')
        const p = await c.query<{ relid: string }>(
          `SELECT relid::regclass::text AS relid FROM pg_partition_tree('messages') WHERE level = 1 LIMIT 1`,
        )
        await c.query(`ALTER TABLE ${p.rows[0]?.relid} DISABLE TRIGGER messages_guard`)
      }),
    )
    assert.equal((await failsOnly(url, 'append_only_triggers'))?.found, 2)
  })

  it('(a) the messages guard narrowed to columns that leave an accepted field unguarded', async () => {
    let tables = 0
    const url = await planted((u) =>
      withClient(u, async (c) => {
        await c.query('DROP TRIGGER messages_guard ON messages')
        await c.query(`CREATE TRIGGER messages_guard BEFORE UPDATE OF id, created_at, customer_id, to_number,
                         from_sender, segments, currency, priority OR DELETE ON messages
                         FOR EACH ROW EXECUTE FUNCTION smsgw_messages_guard()`)
        const n = await c.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_partition_tree('messages')`,
        )
        tables = Number(n.rows[0]?.n)
      }),
    )
    // price_micros left out: the parent and every partition are reported.
    assert.ok(tables > 1)
    assert.equal((await failsOnly(url, 'append_only_triggers'))?.found, tables)
  })

  it('(b) a duplicated submit seen by the simulator: exit 1 naming no_double_send and the message id', async () => {
    const dupSim = await createCarrierSim()
    try {
      const id = '01900000-0000-7000-8000-00000000d0b1'
      for (let i = 0; i < 2; i++) {
        const r = await fetch(dupSim.httpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, to: '+14155550123', from: 'ACME', body: 'hi' }),
        })
        assert.equal(r.status, 200)
      }
      const sims = [
        '--sim',
        `http://127.0.0.1:${sim.httpPort}`,
        '--sim',
        `http://127.0.0.1:${dupSim.httpPort}/`,
      ]
      const check = await failsOnly(clean.url, 'no_double_send', ...sims)
      assert.equal(check?.found, 1)
      assert.deepEqual(check?.samples, [id])
    } finally {
      await dupSim.close()
    }
  })

  it('(b) an unreadable simulator fails the check rather than passing it unread', async () => {
    await failsOnly(clean.url, 'no_double_send', '--sim', 'http://127.0.0.1:1')
  })

  it('(b) a second carrier recorded for a delivered message: exit 1 naming no_double_send', async () => {
    let id = ''
    const url = await planted((u) =>
      withClient(u, async (c) => {
        const { rows } = await c.query<{ message_id: string }>(
          `INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts)
           SELECT 'other', 'x1', r.message_id, r.message_created_at, r.customer_id, r.part, r.parts
             FROM carrier_refs r JOIN messages m ON m.id = r.message_id
            WHERE m.status = 'delivered' AND r.parts = 1 LIMIT 1
           RETURNING message_id`,
        )
        id = rows[0]?.message_id ?? ''
      }),
    )
    assert.deepEqual((await failsOnly(url, 'no_double_send'))?.samples, [id])
  })

  it('(c) a message dropped after dispatch: lost when settled; while live only pending or suspicious', async () => {
    let id = ''
    const url = await planted((u) =>
      withDb(u, async (db) => {
        ;({ id } = await acceptOne(db))
        // The dispatcher "published" it to a bus that lost it.
        await db.query('DELETE FROM outbox WHERE message_id = $1', [id])
      }),
    )
    const lost = await failsOnly(url, 'nothing_lost')
    assert.equal(lost?.found, 1)
    assert.deepEqual(lost?.samples, [id])

    // Live, the database cannot tell it from a message on the bus right now.
    const live = await reconcileJson(url)
    assert.equal(live.code, 0, JSON.stringify(live.report.checks))
    const old = await reconcileJson(url, '--stall-after', '0')
    assert.equal(old.code, 0)
    assert.match(old.report.checks[5]?.detail ?? '', /1 suspicious, dispatched, not claimed/)
  })

  it('(c) a message whose worker died, its lease long run out: lost even while live', async () => {
    let id = ''
    const url = await planted((u) =>
      withDb(u, async (db) => {
        const m = await acceptOne(db)
        id = m.id
        await db.query('DELETE FROM outbox WHERE message_id = $1', [id])
        await db.query(
          `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, lease_until)
           SELECT id, created_at, customer_id, 'submitting', now() - interval '1 hour' FROM messages WHERE id = $1`,
          [id],
        )
        await db.transaction((tx) =>
          applyStatusChanges(tx, [{ messageId: m.id, createdAt: m.createdAt, status: 'sending' }]),
        )
      }),
    )
    const { code, report, failed } = await reconcileJson(url)
    assert.equal(code, 1)
    assert.deepEqual(failed, ['nothing_lost'])
    const check = report.checks.find((c) => c.name === 'nothing_lost')
    assert.deepEqual(check?.samples, [id])
    assert.match(check?.detail ?? '', /1 lost: 1 stalled, with a worker/)
  })

  it('(c) a message row deleted while its charge remains: exit 1 naming nothing_lost', async () => {
    let id = ''
    const url = await planted((u) =>
      withClient(
        u,
        async (c) => {
          const { rows } = await c.query<{ id: string }>(
            `DELETE FROM messages WHERE id = (SELECT id FROM messages WHERE status = 'delivered' LIMIT 1) RETURNING id`,
          )
          id = rows[0]?.id ?? ''
        },
        { replica: true },
      ),
    )
    const { code, report, failed } = await reconcileJson(url, '--settled')
    assert.equal(code, 1)
    assert.deepEqual(failed, ['charge_per_message', 'nothing_lost', 'statuses_monotone'])
    assert.deepEqual(report.checks.find((c) => c.name === 'nothing_lost')?.samples, [id])
  })

  it('(d) a failed message no carrier took, not refunded: exit 1 naming refunds_match_failures', async () => {
    let id = ''
    const url = await planted((u) =>
      withDb(u, async (db) => {
        const m = await acceptOne(db)
        id = m.id
        // A worker that forgot to say no carrier took it: the status moves, no refund is written.
        await db.transaction((tx) =>
          applyStatusChanges(tx, [{ messageId: m.id, createdAt: m.createdAt, status: 'failed' }]),
        )
      }),
    )
    assert.deepEqual((await failsOnly(url, 'refunds_match_failures'))?.samples, [id])
  })

  it('(d) a second refund for a failed message (money otherwise consistent): exit 1 naming refunds_match_failures', async () => {
    const url = await planted((u) =>
      withDb(u, (db) =>
        db.transaction(async (tx) => {
          const { rows } = await tx.query<{
            message_id: string
            customer_id: string
            amount: string
            balance: string
          }>(
            `SELECT l.message_id, l.customer_id, l.amount::text, c.balance::text FROM ledger l
               JOIN customers c ON c.id = l.customer_id WHERE l.kind = 'refund' LIMIT 1 FOR UPDATE OF c`,
          )
          const r = rows[0]
          assert.ok(r)
          await appendEntry(tx, {
            customerId: r.customer_id,
            kind: 'refund',
            amountMicros: Number(r.amount),
            balanceBeforeMicros: Number(r.balance),
            messageId: r.message_id,
          })
        }),
      ),
    )
    assert.match((await failsOnly(url, 'refunds_match_failures'))?.detail ?? '', /refunded more than once/)
  })

  it('(e) a status moving backward in message_events: exit 1 naming statuses_monotone, in the table too', async () => {
    let id = ''
    const url = await planted((u) =>
      withClient(u, async (c) => {
        const { rows } = await c.query<{ message_id: string }>(
          `INSERT INTO message_events (message_id, customer_id, status, created_at)
           SELECT id, customer_id, 'sent', now() FROM messages WHERE status = 'delivered' LIMIT 1
           RETURNING message_id`,
        )
        id = rows[0]?.message_id ?? ''
      }),
    )
    assert.deepEqual((await failsOnly(url, 'statuses_monotone'))?.samples, [id])

    const table = await smsgwReconcile(['--database-url', url, '--settled'])
    assert.equal(table.code, 1)
    assert.match(table.stdout, /^statuses_monotone\s+FAIL\s+1\s+1 messages whose status moved backward/m)
    assert.ok(table.stdout.includes(`e.g. ${id}`))
    assert.match(table.stdout, /\nreconcile: FAIL \(1 check failed: statuses_monotone\)\n?$/)
  })

  it('(e) a second final status (a late receipt overwriting delivered, projection updated too)', async () => {
    let id = ''
    const url = await planted((u) =>
      withClient(u, async (c) => {
        const { rows } = await c.query<{ message_id: string }>(
          `WITH m AS (
             UPDATE messages SET status = 'undelivered'
              WHERE id = (SELECT id FROM messages WHERE status = 'delivered' LIMIT 1)
             RETURNING id, customer_id
           )
           INSERT INTO message_events (message_id, customer_id, status, created_at)
           SELECT id, customer_id, 'undelivered', now() FROM m RETURNING message_id`,
        )
        id = rows[0]?.message_id ?? ''
      }),
    )
    assert.deepEqual((await failsOnly(url, 'statuses_monotone'))?.samples, [id])
  })

  it('usage errors exit 2; a database without the schema exits 1', async () => {
    const bad = await smsgwReconcile(['--database-url', clean.url, '--no-such-flag'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /usage: smsgw reconcile/)
    assert.equal((await smsgwReconcile(['--database-url', 'mysql://x'])).code, 2)
    assert.equal((await smsgwReconcile(['--database-url', clean.url, '--stall-after', 'soon'])).code, 2)
    const empty = await smsgwReconcile(['--database-url', clean.url.replace(/\/[^/]+$/, '/postgres')])
    assert.equal(empty.code, 1)
    assert.match(empty.stderr, /not an smsgw database/)
  })
})
