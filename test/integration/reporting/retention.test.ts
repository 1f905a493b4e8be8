// Retention: bodies past SMSGW_BODY_RETENTION_DAYS redacted (and never shown again by the API or
// written to an archive); day partitions past SMSGW_MESSAGE_RETENTION_DAYS archived, verified and
// dropped; the archive loaded back into a scratch database with the documented psql commands
// gives identical rows; the deliveries and carrier_refs rows of the archived days are archived
// (same format, verified) and deleted, the next day's kept; reconcile skips the archived days and
// says so.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import type { Db } from '../../../src/db/db.ts'
import { partitionName } from '../../../src/db/partitions.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import {
  ArchiveVerifyError,
  archiveDayRows,
  archivePaths,
  dayRows,
  type Manifest,
} from '../../../src/maintenance/archive.ts'
import { runMaintenance } from '../../../src/maintenance/maintenance.ts'
import { planRetention, type RetentionOptions } from '../../../src/maintenance/retention.ts'
import { chargePerMessage } from '../../../src/reconcile/money-checks.ts'
import { usageMatchesLedger } from '../../../src/reconcile/usage-checks.ts'
import { createCustomer, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { BIN } from '../../helpers/bin.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { type GenMessage, idAt, insertMessages, partitionsFor } from './traffic.ts'

const DAY = 86_400_000
const SECRET = 'Your code is 481516'

describe('retention: redaction, archive, drop, load back', () => {
  let fresh: FreshDatabase
  let scratch: FreshDatabase
  let t: TestApp
  let db: Db
  let acme: TestCustomer
  let dir: string
  let opts: RetentionOptions
  const today = Math.floor(Date.now() / DAY) * DAY
  const old = [today - 40 * DAY, today - 39 * DAY]
  const oldDays = old.map((d) => new Date(d).toISOString().slice(0, 10))
  let expected: Record<string, unknown>[][]
  let redactable: GenMessage
  let recent: GenMessage
  /** deliveries / carrier_refs rows of the archived days, as row_to_json, in message_id order. */
  let expectedRows: Record<'deliveries' | 'carrier_refs', Record<string, unknown>[][]>
  /** A delivery created the first millisecond after the last archived day: kept. */
  let nextDay: GenMessage

  before(async () => {
    fresh = await freshDatabase()
    scratch = await freshDatabase()
    t = await startApp(fresh.url)
    db = t.db
    acme = await createCustomer(t.app, { name: 'acme' })
    dir = mkdtempSync(join(tmpdir(), 'smsgw-archive-'))
    opts = { bodyRetentionDays: 30, messageRetentionDays: 38, archiveDir: dir }
    await partitionsFor(db, today - 40 * DAY, 40)
    const gen = (ms: number, i: number): GenMessage => ({
      id: idAt(ms + i * 1000),
      createdAt: ms + i * 1000,
      customerId: acme.id,
      country: 'US',
      priority: 'normal',
      segments: 1,
      priceMicros: 7900,
    })
    const oldMessages = old.flatMap((d) => [0, 1, 2].map((i) => gen(d + 3_600_000, i)))
    redactable = gen(today - 32 * DAY, 0)
    recent = gen(Date.now() - 60_000, 0)
    nextDay = gen((old[1] as number) + DAY, 0)
    const all = [...oldMessages, redactable, recent, nextDay]
    await insertMessages(db, all)
    // Deliveries and receipt references: every old message, the last one a millisecond before
    // midnight (its day's), one the first millisecond of the next day (kept), one recent (kept).
    const lastOfDay = gen((old[1] as number) + DAY - 1, 0)
    await insertMessages(db, [lastOfDay])
    const withDeliveries = [...oldMessages, lastOfDay, nextDay, recent]
    await db.query(
      `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until, carrier, parts)
       SELECT m.id, m.created_at, m.customer_id, 'final', 1, m.created_at, 'sim-smpp', 1
         FROM messages m WHERE m.id = ANY($1::uuid[])`,
      [withDeliveries.map((m) => m.id)],
    )
    await db.query(
      `INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts, receipt_status, created_at)
       SELECT 'sim-smpp', 'ref-' || m.id::text || '-' || p, m.id, m.created_at, m.customer_id, p, 2, 'DELIVRD', m.created_at
         FROM messages m, generate_series(1, 2) AS p WHERE m.id = ANY($1::uuid[])`,
      [withDeliveries.map((m) => m.id)],
    )
    await db.query(`UPDATE messages SET body = $1, metadata = '{"k": "v \\"q\\" \\\\ x"}'`, [SECRET])
    await db.query(
      `INSERT INTO message_events (message_id, customer_id, status, created_at) VALUES ($1, $2, 'delivered', $3)`,
      [oldMessages[0]?.id, acme.id, new Date((old[0] as number) + 7_200_000)],
    )
    await db.query(
      `INSERT INTO ledger (customer_id, kind, amount, balance_after, message_id, created_at)
       SELECT customer_id, 'charge', -price_micros, 0, id, created_at FROM messages`,
    )
    // What the archive must hold: the rows as they are, bodies redacted.
    expected = await Promise.all(
      old.map(async (d) => {
        const { rows } = await db.query<{ j: Record<string, unknown> }>(
          `SELECT row_to_json(t) AS j FROM ${partitionName('messages', new Date(d))} t ORDER BY id`,
        )
        return rows.map((r) => ({ ...r.j, body: null }))
      }),
    )
    const dayRowsOf = async (table: 'deliveries' | 'carrier_refs') =>
      Promise.all(
        old.map(async (d) => {
          const { rows } = await db.query<{ j: Record<string, unknown> }>(
            `SELECT row_to_json(t) AS j FROM ${table} t
              WHERE message_created_at >= $1 AND message_created_at < $2 ORDER BY message_id, t::text`,
            [new Date(d), new Date(d + DAY)],
          )
          return rows.map((r) => r.j)
        }),
      )
    expectedRows = {
      deliveries: await dayRowsOf('deliveries'),
      carrier_refs: await dayRowsOf('carrier_refs'),
    }
    assert.deepEqual(
      expectedRows.deliveries.map((d) => d.length),
      [3, 4],
    )
  })
  after(async () => {
    await t?.close()
    await fresh?.drop()
    await scratch?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('a dry run lists what is due and changes nothing', async () => {
    const plan = await planRetention(db, opts)
    assert.deepEqual(
      plan.archive
        .filter((p) => p.parent !== 'customer_events')
        .map((p) => p.table)
        .sort(),
      old.flatMap((d) => ['message_events', 'messages'].map((t) => partitionName(t, new Date(d)))).sort(),
    )
    assert.ok(plan.redact)
    assert.equal((await db.query('SELECT 1 FROM messages WHERE body IS NOT NULL')).rowCount, 10)
    const out = execFileSync(process.execPath, [BIN, 'maintenance', '--dry-run'], {
      env: {
        ...process.env,
        DATABASE_URL: fresh.url,
        SMSGW_MESSAGE_RETENTION_DAYS: '38',
        SMSGW_ARCHIVE_DIR: dir,
      },
      encoding: 'utf8',
    }).toString()
    assert.match(
      out,
      new RegExp(`archive ${partitionName('messages', new Date(old[0] as number))} \\(${oldDays[0]}\\)`),
    )
    assert.match(out, /redact bodies of messages created/)
    for (const day of oldDays) {
      assert.match(
        out,
        new RegExp(`archive deliveries rows of ${day} \\(${day === oldDays[0] ? 3 : 4} now\\)`),
      )
      assert.match(
        out,
        new RegExp(`archive carrier_refs rows of ${day} \\(${day === oldDays[0] ? 6 : 8} now\\)`),
      )
    }
    assert.deepEqual(
      plan.archiveRows.map((p) => `${p.parent} ${p.day}`),
      oldDays.flatMap((d) => [`deliveries ${d}`, `carrier_refs ${d}`]),
    )
    // customer_events (shown for 30 days) go after 31 days, whatever the message retention.
    assert.deepEqual(
      plan.archive.filter((p) => p.parent === 'customer_events').map((p) => p.day),
      Array.from({ length: 9 }, (_, i) => new Date(today - (40 - i) * DAY).toISOString().slice(0, 10)),
    )
    assert.equal((await planRetention(db, opts)).archive.length, 13, 'nothing archived')
    assert.equal((await db.query('SELECT 1 FROM deliveries')).rowCount, 9, 'nothing deleted')
  })

  it('archives and drops old partitions, redacts old bodies, leaves recent ones', async () => {
    const r = await runMaintenance(db, Date.now(), opts)
    assert.deepEqual(
      r.retention?.archived
        .filter((a) => !a.table.startsWith('customer_events'))
        .map((a) => [a.table, a.rows])
        .sort(),
      [
        [partitionName('message_events', new Date(old[0] as number)), 1],
        [partitionName('message_events', new Date(old[1] as number)), 0],
        [partitionName('messages', new Date(old[0] as number)), 3],
        [partitionName('messages', new Date(old[1] as number)), 4],
        [`deliveries_p${oldDays[0]?.replaceAll('-', '')}`, 3],
        [`deliveries_p${oldDays[1]?.replaceAll('-', '')}`, 4],
        [`carrier_refs_p${oldDays[0]?.replaceAll('-', '')}`, 6],
        [`carrier_refs_p${oldDays[1]?.replaceAll('-', '')}`, 8],
      ].sort(),
    )
    // The next day's and the recent rows stay.
    for (const table of ['deliveries', 'carrier_refs']) {
      const { rows: left } = await db.query<{ id: string }>(
        `SELECT DISTINCT message_id::text AS id FROM ${table} ORDER BY 1`,
      )
      assert.deepEqual(
        left.map((r) => r.id),
        [nextDay.id, recent.id].sort(),
        table,
      )
    }
    const { rows } = await db.query<{ id: string; body: string | null }>(
      'SELECT id::text, body FROM messages ORDER BY id',
    )
    assert.deepEqual(rows, [
      { id: nextDay.id, body: null },
      { id: redactable.id, body: null },
      { id: recent.id, body: SECRET },
    ])
    const days = await db.query<{ day: string; rows: string }>(
      `SELECT day::text, rows::text FROM archived_days WHERE 'messages' = ANY(tables) ORDER BY day`,
    )
    // messages + message_events + deliveries + carrier_refs
    assert.deepEqual(days.rows, [
      { day: oldDays[0], rows: String(3 + 1 + 3 + 6) },
      { day: oldDays[1], rows: String(4 + 0 + 4 + 8) },
    ])
    const tables = await db.query<{ tables: string[] }>('SELECT tables FROM archived_days ORDER BY day')
    assert.deepEqual(
      tables.rows
        .filter((r) => r.tables.includes('messages'))
        .map((r) => r.tables.filter((t) => t !== 'customer_events').sort()),
      [0, 1].map(() => ['carrier_refs', 'deliveries', 'message_events', 'messages']),
    )
    // A second run finds nothing to do.
    const again = await runMaintenance(db, Date.now(), opts)
    assert.deepEqual(again.retention, { redacted: 0, archived: [] })
  })

  it('the files match their manifests and hold no body', async () => {
    for (const d of old) {
      const p = { table: partitionName('messages', new Date(d)), day: new Date(d).toISOString().slice(0, 10) }
      const paths = archivePaths(dir, p)
      const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as Manifest
      const text = gunzipSync(readFileSync(paths.data)).toString('utf8')
      assert.equal(text.trim().split('\n').length, manifest.rows)
      assert.equal(manifest.format, 'smsgw-archive-ndjson-gzip-v1')
      assert.ok(!text.includes('481516'), 'no body in the archive')
    }
    for (const [i, day] of oldDays.entries())
      for (const table of ['deliveries', 'carrier_refs'] as const) {
        const paths = archivePaths(dir, { table: `${table}_p${day.replaceAll('-', '')}`, day })
        const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as Manifest
        const lines = gunzipSync(readFileSync(paths.data)).toString('utf8').trim().split('\n')
        assert.equal(manifest.format, 'smsgw-archive-ndjson-gzip-v1')
        assert.equal(manifest.rows, expectedRows[table][i]?.length)
        assert.equal(lines.length, manifest.rows)
        assert.ok(manifest.columns.some((c) => c.name === 'message_created_at'))
      }
  })

  it('loads back into a scratch database with the documented psql commands: identical rows', async () => {
    const sdb = createPostgresDb({ url: scratch.url, poolSize: 2 })
    try {
      await partitionsFor(sdb, today - 40 * DAY, 2)
      for (const [i, d] of old.entries()) {
        const p = {
          table: partitionName('messages', new Date(d)),
          day: new Date(d).toISOString().slice(0, 10),
        }
        const file = archivePaths(dir, p).data
        // docs/operations.md "Loading an archive back"
        execFileSync('sh', [
          '-c',
          `gunzip -c "$1" | psql "$2" -v ON_ERROR_STOP=1 -q -c 'CREATE TEMP TABLE archive_load (j jsonb)' -c "COPY archive_load FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" -c 'INSERT INTO messages SELECT (jsonb_populate_record(NULL::messages, j)).* FROM archive_load'`,
          'load',
          file,
          scratch.url,
        ])
        const { rows } = await sdb.query<{ j: Record<string, unknown> }>(
          `SELECT row_to_json(t) AS j FROM ${p.table} t ORDER BY id`,
        )
        assert.deepEqual(
          rows.map((r) => r.j),
          expected[i],
        )
        for (const table of ['deliveries', 'carrier_refs'] as const) {
          const rowsFile = archivePaths(dir, {
            table: `${table}_p${p.day.replaceAll('-', '')}`,
            day: p.day,
          }).data
          execFileSync('sh', [
            '-c',
            `gunzip -c "$1" | psql "$2" -v ON_ERROR_STOP=1 -q -c 'CREATE TEMP TABLE archive_load (j jsonb)' -c "COPY archive_load FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" -c 'INSERT INTO ${table} SELECT (jsonb_populate_record(NULL::${table}, j)).* FROM archive_load'`,
            'load',
            rowsFile,
            scratch.url,
          ])
          const back = await sdb.query<{ j: Record<string, unknown> }>(
            `SELECT row_to_json(t) AS j FROM ${table} t
              WHERE message_created_at >= $1 AND message_created_at < $2 ORDER BY message_id, t::text`,
            [new Date(d), new Date(d + DAY)],
          )
          assert.deepEqual(
            back.rows.map((r) => r.j),
            expectedRows[table][i],
            `${table} ${p.day}`,
          )
        }
      }
    } finally {
      await sdb.close()
    }
  })

  it('the API never shows a redacted body', async () => {
    const one = await t.app.inject({
      method: 'GET',
      url: `/v1/messages/${redactable.id}`,
      headers: acme.auth,
    })
    assert.equal(one.statusCode, 200)
    assert.equal(one.json().body, null)
    const list = await t.app.inject({
      method: 'GET',
      url: `/v1/messages?created_after=${new Date(today - 35 * DAY).toISOString()}`,
      headers: acme.auth,
    })
    assert.equal(list.statusCode, 200)
    const listed = (list.json() as { data: { id: string; body: string | null }[] }).data
    assert.deepEqual(
      listed.map((m) => [m.id, m.body]),
      [
        [recent.id, SECRET],
        [redactable.id, null],
      ],
    )
  })

  it('reconcile skips the archived days and says so', async () => {
    const usage = await usageMatchesLedger(db)
    assert.match(usage.detail, new RegExp(`2 archived days skipped \\(${oldDays[0]} … ${oldDays[1]}\\)`))
    const charges = await chargePerMessage(db, 2)
    assert.equal(charges.ok, true, charges.detail)
  })
})

describe('retention: deliveries and carrier_refs of days archived before they were archived too', () => {
  let fresh: FreshDatabase
  let db: Db
  let dir: string
  const today = Math.floor(Date.now() / DAY) * DAY
  // A day whose messages were archived by an earlier version: its partition is gone, archived_days
  // says messages and message_events, and its deliveries and receipt references are still here.
  const earlier = today - 50 * DAY
  const earlierDay = new Date(earlier).toISOString().slice(0, 10)

  before(async () => {
    fresh = await freshDatabase()
    db = createPostgresDb({ url: fresh.url, poolSize: 2 })
    dir = mkdtempSync(join(tmpdir(), 'smsgw-archive-'))
    await db.query(
      `INSERT INTO archived_days (day, tables, rows, files) VALUES ($1, ARRAY['messages', 'message_events'], 5, ARRAY[]::text[])`,
      [earlierDay],
    )
    const ids = [1, 2, 3].map((i) => idAt(earlier + i * 3_600_000))
    await db.query(
      `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until, carrier, parts)
       SELECT id, to_timestamp(($2::bigint + n * 3600000) / 1000.0), gen_random_uuid(), 'final', 1, now(), 'sim-smpp', 1
         FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, n)`,
      [ids, earlier],
    )
    await db.query(
      `INSERT INTO carrier_refs (carrier, carrier_id, message_id, message_created_at, customer_id, part, parts)
       SELECT 'sim-smpp', 'ref-' || message_id::text, message_id, message_created_at, customer_id, 1, 1 FROM deliveries`,
    )
  })
  after(async () => {
    await db?.close()
    await fresh?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('a row committed between the export and the delete rolls the day back: rows kept, nothing recorded, no file', async () => {
    // Another connection commits a delivery of that day after the export read the day's rows and
    // before the DELETE (READ COMMITTED: the DELETE sees it): the DELETE's count differs from the
    // manifest's, so the transaction must roll back — the rows stay and the day is not recorded.
    const late = idAt(earlier + 5 * 3_600_000)
    let raced = false
    const racing: Db = {
      kind: db.kind,
      query: (sql, params, opts) => db.query(sql, params, opts),
      exec: (sql) => db.exec(sql),
      close: () => db.close(),
      transaction: (fn) =>
        db.transaction((tx) =>
          fn({
            exec: (sql) => tx.exec(sql),
            query: async (sql, params, opts) => {
              if (!raced && sql.startsWith('DELETE FROM deliveries')) {
                raced = true
                await db.query(
                  `INSERT INTO deliveries (message_id, message_created_at, customer_id, state, attempts, lease_until, carrier, parts)
                   VALUES ($1, $2, gen_random_uuid(), 'final', 1, now(), 'sim-smpp', 1)`,
                  [late, new Date(earlier + 5 * 3_600_000)],
                )
              }
              return tx.query(sql, params, opts)
            },
          }),
        ),
    }
    const p = dayRows('deliveries', earlierDay)
    await assert.rejects(archiveDayRows(racing, dir, p, 7_200_731_099), ArchiveVerifyError)
    assert.ok(raced, 'the delete ran')
    assert.equal((await db.query('SELECT 1 FROM deliveries')).rowCount, 4, 'the 3 rows and the late one kept')
    const { rows } = await db.query<{ tables: string[] }>('SELECT tables FROM archived_days WHERE day = $1', [
      earlierDay,
    ])
    assert.deepEqual(rows, [{ tables: ['messages', 'message_events'] }])
    assert.equal(existsSync(archivePaths(dir, p).data), false, 'the export is removed')
    assert.equal(existsSync(archivePaths(dir, p).manifest), false)
    await db.query('DELETE FROM deliveries WHERE message_id = $1', [late])
  })

  it('are planned, archived, verified and deleted on the next run, once', async () => {
    const opts: RetentionOptions = { bodyRetentionDays: 30, messageRetentionDays: 38, archiveDir: dir }
    const plan = await planRetention(db, opts)
    assert.deepEqual(
      plan.archiveRows.map((p) => [p.parent, p.day]),
      [
        ['deliveries', earlierDay],
        ['carrier_refs', earlierDay],
      ],
    )
    const r = await runMaintenance(db, Date.now(), opts)
    assert.deepEqual(
      r.retention?.archived.map((a) => [a.table, a.rows]),
      [
        [`deliveries_p${earlierDay.replaceAll('-', '')}`, 3],
        [`carrier_refs_p${earlierDay.replaceAll('-', '')}`, 3],
      ],
    )
    assert.equal((await db.query('SELECT 1 FROM deliveries')).rowCount, 0)
    assert.equal((await db.query('SELECT 1 FROM carrier_refs')).rowCount, 0)
    const { rows } = await db.query<{ tables: string[]; rows: string }>(
      'SELECT tables, rows::text FROM archived_days WHERE day = $1',
      [earlierDay],
    )
    assert.deepEqual(rows, [
      { tables: ['messages', 'message_events', 'deliveries', 'carrier_refs'], rows: '11' },
    ])
    const manifest = JSON.parse(
      readFileSync(
        archivePaths(dir, { table: `deliveries_p${earlierDay.replaceAll('-', '')}`, day: earlierDay })
          .manifest,
        'utf8',
      ),
    ) as Manifest
    assert.equal(manifest.rows, 3)
    assert.deepEqual((await planRetention(db, opts)).archiveRows, [])
    assert.deepEqual((await runMaintenance(db, Date.now(), opts)).retention?.archived, [])
  })
})
