// The ClickHouse sink and reader against a real ClickHouse server (18.16 from Debian here),
// started by this test: status events fed twice and redelivered after a failed pass count once;
// usage and reports from ClickHouse equal those from the PostgreSQL rollups for the same traffic.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { statusSubject } from '../../../src/bus/subjects.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import type { MessageStatus } from '../../../src/domain/status.ts'
import type { StatusEvent } from '../../../src/events/status-events.ts'
import type { Granularity } from '../../../src/reporting/buckets.ts'
import {
  type ClickHouse,
  createClickHouse,
  createClickHouseSink,
  createClickHouseUsageReader,
  ensureClickHouseSchema,
  reconcileTotals,
} from '../../../src/reporting/clickhouse.ts'
import { rebuildRollups } from '../../../src/reporting/rollups.ts'
import { createPgUsageReader, type UsageGroup, type UsageReader } from '../../../src/reporting/usage.ts'
import { ADMIN_TOKEN, startApp } from '../../helpers/app.ts'
import { BIN } from '../../helpers/bin.ts'
import {
  type ClickHouseServer,
  clickhouseSkipReason,
  startClickHouse,
} from '../../helpers/clickhouse-server.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import {
  applyChanges,
  type Change,
  type GenMessage,
  idAt,
  insertCustomers,
  insertMessages,
  partitionsFor,
} from './traffic.ts'

const DAY = 86_400_000
const PATHS: { status: MessageStatus; carrier?: boolean; refund?: boolean }[][] = [
  [],
  [{ status: 'sending' }, { status: 'sent', carrier: true }, { status: 'delivered' }],
  [{ status: 'sending' }, { status: 'sent', carrier: true }, { status: 'undelivered' }],
  [{ status: 'sending' }, { status: 'failed', refund: true }],
  [{ status: 'canceled', refund: true }],
  [{ status: 'sending' }, { status: 'rejected', carrier: true }],
]
const CARRIERS = ['alpha', 'beta']
const COUNTRIES = ['US', 'GB', 'DE']
const PRIORITIES = ['otp', 'normal', 'bulk']

function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const HOUR = 3_600_000
const MINUTE = 60_000
const exec = promisify(execFile)

/** Each totals table's net rows equal a GROUP BY over sms_messages FINAL (the deduplicated messages). */
async function assertTotalsAgree(ch: ClickHouse): Promise<void> {
  const dims = 'country, status, priority, carrier'
  for (const [table, fn] of [
    ['sms_usage_minute', 'toStartOfMinute'],
    ['sms_usage_hour', 'toStartOfHour'],
    ['sms_usage_day', 'toStartOfDay'],
  ] as const) {
    const want = await ch.rows(
      `SELECT customer_id, toUInt32(${fn}(created_at)) AS b, ${dims}, toInt64(count()) AS n,
              toInt64(sum(segments)) AS s, sum(cost_micros) AS c
         FROM sms_messages FINAL GROUP BY customer_id, b, ${dims} ORDER BY customer_id, b, ${dims}`,
    )
    const got = await ch.rows(
      `SELECT customer_id, toUInt32(bucket) AS b, ${dims}, sum(messages) AS n, sum(segments) AS s, sum(cost_micros) AS c
         FROM ${table} GROUP BY customer_id, b, ${dims} HAVING n != 0 ORDER BY customer_id, b, ${dims}`,
    )
    assert.ok(want.length > 0)
    assert.deepEqual(got, want, table)
  }
  for (const [g, fn] of [
    ['minute', 'toStartOfMinute'],
    ['hour', 'toStartOfHour'],
    ['day', 'toStartOfDay'],
  ] as const) {
    assert.deepEqual(
      await ch.rows(
        `SELECT customer_id, toUInt32(bucket) AS b, sum(messages) AS n, sum(segments) AS s, sum(cost_micros) AS c
           FROM sms_usage_${g}_customer GROUP BY customer_id, b HAVING n != 0 ORDER BY customer_id, b`,
      ),
      await ch.rows(
        `SELECT customer_id, toUInt32(${fn}(created_at)) AS b, toInt64(count()) AS n,
                toInt64(sum(segments)) AS s, sum(cost_micros) AS c
           FROM sms_messages FINAL GROUP BY customer_id, b ORDER BY customer_id, b`,
      ),
      `sms_usage_${g}_customer`,
    )
    assert.deepEqual(
      await ch.rows(
        `SELECT toUInt32(bucket) AS b, carrier, status, sum(messages) AS n
           FROM sms_usage_${g}_carrier GROUP BY b, carrier, status HAVING n != 0 ORDER BY b, carrier, status`,
      ),
      await ch.rows(
        `SELECT toUInt32(${fn}(created_at)) AS b, carrier, status, toInt64(count()) AS n
           FROM sms_messages FINAL WHERE carrier != '' GROUP BY b, carrier, status ORDER BY b, carrier, status`,
      ),
      `sms_usage_${g}_carrier`,
    )
  }
}

/** Rows (all parts, before merges) of each totals table: unchanged when a reconcile inserted nothing. */
const totalsRows = (ch: ClickHouse, database: string) =>
  ch.rows<{ name: string; n: string }>(
    `SELECT table AS name, toString(sum(rows)) AS n FROM system.parts
      WHERE database = '${database}' AND active AND table LIKE 'sms_usage%' GROUP BY table ORDER BY table`,
  )

const skip = clickhouseSkipReason()

describe('ClickHouse sink and reader (real clickhouse-server)', { skip: skip ?? false }, () => {
  let server: ClickHouseServer
  let fresh: FreshDatabase
  let db: Db
  let bus: Bus
  let ch: ClickHouse
  let chUrl: string
  let customers: string[]
  const messages: (GenMessage & { path: number; carrier: string })[] = []
  const day0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY

  before(async () => {
    server = await startClickHouse()
    fresh = await freshDatabase()
    db = createPostgresDb({ url: fresh.url, poolSize: 4 })
    bus = createMemoryBus()
    chUrl = `${server.url}?database=smsgw_test`
    ch = createClickHouse(chUrl)
    await partitionsFor(db, day0, 4)
    customers = await insertCustomers(db, 3)
    const random = rng(1314)
    for (let i = 0; i < 240; i++) {
      const at = day0 + Math.floor(random() * 3 * DAY)
      const segments = 1 + Math.floor(random() * 3)
      messages.push({
        id: idAt(at),
        createdAt: at,
        customerId: customers[Math.floor(random() * 3)] as string,
        country: COUNTRIES[Math.floor(random() * 3)] as string,
        priority: PRIORITIES[Math.floor(random() * 3)] as string,
        segments,
        priceMicros: 7900 * segments,
        path: Math.floor(random() * PATHS.length),
        carrier: CARRIERS[Math.floor(random() * 2)] as string,
      })
    }
  })
  after(async () => {
    await bus?.close()
    await db?.close()
    await fresh?.drop()
    await server?.stop()
  })

  it('creates its schema on start, idempotently (ClickHouse 18.16 dialect)', async () => {
    await ensureClickHouseSchema(ch, chUrl)
    await ensureClickHouseSchema(ch, chUrl)
    const [v] = await ch.rows<{ v: string }>('SELECT version() AS v')
    const [t] = await ch.rows<{ engine: string }>(
      `SELECT engine FROM system.tables WHERE database = 'smsgw_test' AND name = 'sms_messages'`,
    )
    assert.equal(t?.engine, 'ReplacingMergeTree', `server ${v?.v}`)
  })

  it('accepts and status events fed twice, and redelivered after a failed pass, count once', async () => {
    // Fails the insert of the first pass that has events: those events are nak'd and redelivered.
    // Then fails the first insert into the day totals, after the minute and hour totals of that
    // pass were written: the pass is left half done, and its redelivery must complete it.
    let failNext = true
    let failDayTotals = true
    const flaky: ClickHouse = {
      ...ch,
      exec: async (sql, body) => {
        if (body !== undefined && failNext) {
          failNext = false
          throw new Error('injected: ClickHouse insert failed')
        }
        if (sql.startsWith('INSERT INTO sms_usage_day (') && failDayTotals) {
          failDayTotals = false
          throw new Error('injected: ClickHouse day totals insert failed')
        }
        return ch.exec(sql, body)
      },
    }
    const errors: unknown[] = []
    const sink = createClickHouseSink({
      db,
      bus,
      ch: flaky,
      intervalMs: 3_600_000,
      onError: (e) => errors.push(e),
    })
    await sink.start()
    // Accepts write no event: the sink's sweep finds them (its position set back to the traffic's start).
    await db.query(`UPDATE usage_sweep_position SET swept_to = $1 WHERE name = 'clickhouse'`, [
      new Date(day0),
    ])
    await insertMessages(db, messages)

    let published = 0
    let acked = 0
    let failedPasses = 0
    const drain = async () =>
      waitFor(
        async () => {
          try {
            acked += (await sink.pass()).events
          } catch {
            failedPasses++
          }
          return acked >= published
        },
        `${published} events acked`,
        20_000,
        50,
      )
    const events: StatusEvent[] = []
    for (let step = 0; ; step++) {
      const changes: Change[] = messages.flatMap((m) => {
        const s = PATHS[m.path]?.[step]
        if (!s) return []
        return [
          {
            message: m,
            status: s.status,
            ...(s.carrier ? { carrier: m.carrier } : {}),
            ...(s.refund ? { refund: true } : {}),
          },
        ]
      })
      if (changes.length === 0) break
      for (const { id, change } of await applyChanges(db, changes)) {
        const e: StatusEvent = {
          id,
          type: `message.${change.status}`,
          message_id: change.message.id,
          customer_id: change.message.customerId,
          status: change.status,
          detail: null,
          created_at: new Date().toISOString(),
        }
        events.push(e)
        // Fed twice (a duplicate from the relay's redelivery).
        await bus.publish(statusSubject(e.customer_id, e.status), e)
        await bus.publish(statusSubject(e.customer_id, e.status), e)
        published += 2
      }
      await drain()
    }
    // Old events replayed after everything else (beyond the broker's duplicate window).
    for (const e of events.slice(0, 50)) {
      await bus.publish(statusSubject(e.customer_id, e.status), e)
      published++
    }
    await drain()
    await sink.stop()
    assert.equal(failedPasses, 2, 'both injected failures happened once and their events were redelivered')
    assert.equal(failDayTotals, false)
    assert.equal(errors.length, 0)
    assert.ok(events.length > 200, `${events.length} status events`)

    const [raw] = await ch.rows<{ n: string }>('SELECT count() AS n FROM sms_messages')
    const [final] = await ch.rows<{ n: string; ids: string }>(
      'SELECT count() AS n, uniqExact(message_id) AS ids FROM sms_messages FINAL',
    )
    assert.ok(Number(raw?.n) >= messages.length)
    assert.equal(Number(final?.n), messages.length, 'one row per message after FINAL')
    assert.equal(Number(final?.ids), messages.length)
    const statuses = await ch.rows<{ status: string; n: string }>(
      'SELECT status, count() AS n FROM sms_messages FINAL GROUP BY status ORDER BY status',
    )
    const expected = new Map<string, number>()
    for (const m of messages) {
      const last = PATHS[m.path]?.at(-1)?.status ?? 'queued'
      expected.set(last, (expected.get(last) ?? 0) + 1)
    }
    assert.deepEqual(
      Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)])),
      Object.fromEntries([...expected].sort(([a], [b]) => a.localeCompare(b))),
    )
    // Every totals table equals a GROUP BY over the deduplicated messages, and reconciling the
    // whole range again finds nothing to change.
    await assertTotalsAgree(ch)
    const rowsBefore = await totalsRows(ch, 'smsgw_test')
    await reconcileTotals(db, ch, { fromMs: day0, toMs: Date.now() + 60_000 })
    await reconcileTotals(db, ch, {
      keys: messages.map((m) => ({ customerId: m.customerId, minute: m.createdAt })),
    })
    assert.deepEqual(await totalsRows(ch, 'smsgw_test'), rowsBefore, 'nothing inserted')
  })

  it('usage and reports from ClickHouse equal those from the PostgreSQL rollups', async () => {
    await rebuildRollups(db, day0, Date.now())
    const pg: UsageReader = createPgUsageReader(db)
    const chr: UsageReader = createClickHouseUsageReader(ch)
    const ranges: [Granularity, number, number][] = [
      ['day', day0, day0 + 4 * DAY],
      ['hour', day0 + DAY, day0 + 2 * DAY],
      ['minute', day0 + DAY + 3_600_000, day0 + DAY + 5 * 3_600_000],
    ]
    let periods = 0
    for (const customerId of customers)
      for (const [granularity, fromMs, toMs] of ranges)
        for (const groupBy of [undefined, 'country', 'status', 'priority'] as (UsageGroup | undefined)[]) {
          const q = { customerId, granularity, fromMs, toMs, ...(groupBy ? { groupBy } : {}) }
          const want = await pg.usage(q)
          assert.deepEqual(await chr.usage(q), want, `${customerId} ${granularity} ${groupBy ?? ''}`)
          periods += want.length
        }
    assert.ok(periods > 100, `${periods} periods compared`)
    const day = await pg.usage({
      customerId: customers[0] as string,
      granularity: 'day',
      fromMs: day0,
      toMs: day0 + 4 * DAY,
    })
    assert.equal(
      day.reduce((n, p) => n + p.messages, 0),
      messages.filter((m) => m.customerId === customers[0]).length,
    )

    // Whole days (day totals), whole hours, and minute edges around both.
    const reportRanges: [number, number][] = [
      [day0, day0 + 4 * DAY],
      [day0 + 3 * HOUR, day0 + 2 * DAY + 5 * HOUR],
      [day0 + 97 * MINUTE, day0 + 2 * DAY + 7 * MINUTE],
      [day0 + DAY + 5 * MINUTE, day0 + DAY + 5 * HOUR + 59 * MINUTE],
    ]
    for (const [fromMs, toMs] of reportRanges) {
      for (const order of ['messages', 'segments', 'cost'] as const) {
        const top = await pg.topCustomers(fromMs, toMs, order, 2)
        assert.equal(top.length, 2)
        assert.deepEqual(await chr.topCustomers(fromMs, toMs, order, 2), top, `${fromMs}..${toMs} ${order}`)
      }
      assert.deepEqual(
        await chr.carriers(fromMs, toMs),
        await pg.carriers(fromMs, toMs),
        `${fromMs}..${toMs}`,
      )
    }
    const carriers = await pg.carriers(day0 + DAY, day0 + 2 * DAY)
    assert.deepEqual(
      carriers.map((c) => c.carrier),
      ['alpha', 'beta'],
    )
    assert.deepEqual(await chr.carriers(day0 + DAY, day0 + 2 * DAY), carriers)
  })

  it('smsgw clickhouse backfill fills an empty database to equal the rollups; run twice, it changes nothing', async () => {
    const url = `${server.url}?database=smsgw_backfill`
    const backfill = () =>
      exec(
        process.execPath,
        [
          BIN,
          'clickhouse',
          'backfill',
          '--from',
          new Date(day0).toISOString(),
          '--to',
          new Date().toISOString(),
        ],
        { env: { ...process.env, DATABASE_URL: fresh.url, CLICKHOUSE_URL: url, LOG_LEVEL: 'warn' } },
      )
    const first = await backfill()
    assert.match(first.stdout, new RegExp(`done: ${messages.length} messages`))
    const filled = createClickHouse(url)
    const before = await totalsRows(ch, 'smsgw_backfill')
    assert.equal(before.length, 9, JSON.stringify(before))
    await backfill()
    assert.deepEqual(
      await totalsRows(ch, 'smsgw_backfill'),
      before,
      'the second run inserted no difference rows',
    )
    await assertTotalsAgree(filled)
    const pg = createPgUsageReader(db)
    const chr = createClickHouseUsageReader(filled)
    for (const customerId of customers)
      for (const granularity of ['day', 'hour'] as const) {
        const q = { customerId, granularity, fromMs: day0, toMs: day0 + 4 * DAY, groupBy: 'status' as const }
        assert.deepEqual(await chr.usage(q), await pg.usage(q))
      }
    assert.deepEqual(
      await chr.topCustomers(day0, day0 + 4 * DAY, 'cost', 3),
      await pg.topCustomers(day0, day0 + 4 * DAY, 'cost', 3),
    )
    assert.deepEqual(await chr.carriers(day0, day0 + 4 * DAY), await pg.carriers(day0, day0 + 4 * DAY))
  })

  it('serves the admin reports and GET /v1/usage from ClickHouse when configured', async () => {
    const viaPg = await startApp(fresh.url)
    const viaCh = await startApp(fresh.url, { deps: { usageReader: createClickHouseUsageReader(ch) } })
    try {
      // Only ClickHouse knows about this row: it proves the reports read from ClickHouse.
      await ch.exec(
        'INSERT INTO sms_messages FORMAT JSONEachRow',
        JSON.stringify({
          day: new Date(day0).toISOString().slice(0, 10),
          created_at: String(day0 / 1000 + 60),
          customer_id: customers[0],
          message_id: 'clickhouse-only',
          country: 'US',
          status: 'delivered',
          priority: 'normal',
          carrier: 'gamma',
          segments: 1,
          cost_micros: '1',
          version: '1',
        }),
      )
      await reconcileTotals(db, ch, { keys: [{ customerId: customers[0] as string, minute: day0 + 60_000 }] })
      const q = `from=${new Date(day0).toISOString()}&to=${new Date(day0 + 4 * DAY).toISOString()}`
      const get = async (t: typeof viaPg, url: string) => {
        const res = await t.app.inject({
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
        assert.equal(res.statusCode, 200, res.body)
        return res.json() as {
          data: { carrier?: string; customer_id?: string; messages?: number; submitted?: number }[]
        }
      }
      const pgCarriers = await get(viaPg, `/v1/admin/reports/carriers?${q}`)
      const chCarriers = await get(viaCh, `/v1/admin/reports/carriers?${q}`)
      assert.deepEqual(
        chCarriers.data.map((c) => c.carrier),
        ['alpha', 'beta', 'gamma'],
      )
      assert.deepEqual(chCarriers.data.slice(0, 2), pgCarriers.data)
      const pgTop = await get(viaPg, `/v1/admin/reports/customers?${q}&order=messages`)
      const chTop = await get(viaCh, `/v1/admin/reports/customers?${q}&order=messages`)
      const bump = (rows: typeof pgTop.data) =>
        rows.map((r) => (r.customer_id === customers[0] ? { ...r, messages: (r.messages ?? 0) + 1 } : r))
      assert.deepEqual(
        chTop.data.map((r) => [r.customer_id, r.messages]),
        bump(pgTop.data)
          .map((r) => [r.customer_id, r.messages])
          .sort((a, b) => Number(b[1]) - Number(a[1]) || String(a[0]).localeCompare(String(b[0]))),
      )
    } finally {
      await viaPg.close()
      await viaCh.close()
    }
  })
})

if (skip) it(`ClickHouse tests skipped: ${skip}`, { skip }, () => {})
