// Property: for a generated month of traffic whose status events reach the rollups in random
// order, in random passes, with duplicates, the rollups equal a direct GROUP BY over the message
// log at minute, hour and day granularity — and replaying old events changes nothing. Passes
// recompute the minute rows and carry their changes to hours and days as deltas; a rebuild
// re-derives hours and days whole.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import type { MessageStatus } from '../../../src/domain/status.ts'
import { GRANULARITIES } from '../../../src/reporting/buckets.ts'
import { keyOfEvent } from '../../../src/reporting/rollup-consumer.ts'
import { rebuildRollups, recomputeBuckets, sweepAccepted } from '../../../src/reporting/rollups.ts'
import { createPgUsageReader, toPeriods } from '../../../src/reporting/usage.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import {
  applyChanges,
  type Change,
  type GenMessage,
  groupByRows,
  idAt,
  insertCustomers,
  insertMessages,
  partitionsFor,
  rollupRows,
} from './traffic.ts'

const DAY = 86_400_000
/** Status paths after `queued`; refunds where the status writer would refund (no carrier took it). */
const PATHS: { status: MessageStatus; carrier?: boolean; refund?: boolean }[][] = [
  [],
  [{ status: 'sending' }, { status: 'sent', carrier: true }, { status: 'delivered' }],
  [{ status: 'sending' }, { status: 'sent', carrier: true }, { status: 'undelivered' }],
  [{ status: 'sending' }, { status: 'sent', carrier: true }, { status: 'unknown' }],
  [{ status: 'sending' }, { status: 'failed', refund: true }],
  [{ status: 'canceled', refund: true }],
  [{ status: 'expired', refund: true }],
  [{ status: 'sending' }, { status: 'rejected', carrier: true }],
]
const CARRIERS = ['alpha', 'beta']

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

const MessageSpec = fc.record({
  customer: fc.nat(2),
  day: fc.nat(29),
  // Few hours and minutes, so buckets hold several messages and hours several minutes.
  hour: fc.constantFrom(0, 13, 23),
  minute: fc.nat(2),
  ms: fc.nat(59_999),
  country: fc.constantFrom('US', 'GB', 'DE'),
  priority: fc.constantFrom('otp', 'high', 'normal', 'bulk'),
  segments: fc.integer({ min: 1, max: 4 }),
  price: fc.integer({ min: 0, max: 50_000 }),
  path: fc.nat(PATHS.length - 1),
  carrier: fc.nat(CARRIERS.length - 1),
})

/**
 * The totals of (customer, minute | hour) per status (migration 0022) and of (customer, hour) per
 * (country, status) and (priority, status) (migration 0024) equal the dimension rows summed over the other dimensions.
 */
async function assertStatusTotals(db: Db, customers: string[], when: string) {
  for (const [g, name, cols] of [
    ['minute', 'status', 'status'],
    ['hour', 'status', 'status'],
    ['hour', 'country', 'country, status'],
    ['hour', 'priority', 'priority, status'],
  ] as const) {
    const q = async (sql: string) => (await db.query(sql, [customers])).rows
    assert.deepEqual(
      await q(
        `SELECT customer_id::text, bucket::text, ${cols}, messages::text, segments::text, cost_micros::text
             FROM usage_${g}_${name} WHERE customer_id = ANY($1::uuid[]) ORDER BY 1, 2, ${cols}`,
      ),
      await q(
        `SELECT customer_id::text, bucket::text, ${cols}, sum(messages)::text AS messages,
                  sum(segments)::text AS segments, sum(cost_micros)::text AS cost_micros
             FROM usage_${g} WHERE customer_id = ANY($1::uuid[]) GROUP BY 1, 2, ${cols} ORDER BY 1, 2, ${cols}`,
      ),
      `usage_${g}_${name} ${when}`,
    )
  }
}

/**
 * GET /v1/usage's reader, at every granularity and group_by, answers what the dimension rows say
 * (summed in JS): whichever totals table it reads, it reads the right one.
 */
async function assertReaderAgrees(db: Db, customers: string[], fromMs: number, toMs: number) {
  const reader = createPgUsageReader(db)
  for (const customerId of customers)
    for (const granularity of GRANULARITIES)
      for (const groupBy of [undefined, 'country', 'status', 'priority'] as const) {
        const { rows } = await db.query<Record<string, string>>(
          `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text AS period, ${groupBy ?? 'NULL'} AS grp,
                  status, messages::text, segments::text, cost_micros::text
             FROM usage_${granularity} WHERE customer_id = $1 AND bucket >= $2 AND bucket < $3`,
          [customerId, new Date(fromMs), new Date(toMs)],
        )
        const want = toPeriods(
          rows.map((r) => ({
            period: Number(r.period),
            grp: groupBy ? r.grp : undefined,
            status: r.status as string,
            messages: Number(r.messages),
            segments: Number(r.segments),
            cost: Number(r.cost_micros),
          })),
        )
        assert.deepEqual(
          await reader.usage({ customerId, granularity, fromMs, toMs, ...(groupBy ? { groupBy } : {}) }),
          want,
          `usage ${granularity} by ${groupBy ?? 'nothing'}`,
        )
      }
}

describe('usage rollups', () => {
  let fresh: FreshDatabase
  let db: Db
  before(async () => {
    fresh = await freshDatabase()
    db = createPostgresDb({ url: fresh.url, poolSize: 4 })
  })
  after(async () => {
    await db?.close()
    await fresh?.drop()
  })

  it('equal a direct GROUP BY over a month of traffic, whatever the event order, passes and duplicates', async () => {
    const monthStart = Math.floor(Date.now() / DAY) * DAY - 29 * DAY
    await partitionsFor(db, monthStart, 30)
    await fc.assert(
      fc.asyncProperty(
        fc.array(MessageSpec, { minLength: 20, maxLength: 150 }),
        fc.integer(),
        async (specs, seed) => {
          const random = rng(seed)
          const customers = await insertCustomers(db, 3)
          const now = Date.now()
          const messages: (GenMessage & { spec: (typeof specs)[number] })[] = specs.map((s) => {
            const at = Math.min(
              now - 1,
              monthStart + s.day * DAY + s.hour * 3_600_000 + s.minute * 60_000 + s.ms,
            )
            return {
              id: idAt(at),
              createdAt: at,
              customerId: customers[s.customer] as string,
              country: s.country,
              priority: s.priority,
              segments: s.segments,
              priceMicros: s.price * s.segments,
              spec: s,
            }
          })
          // Accepted: no event; the sweep finds them (its position set back to the month's start).
          await db.query(`UPDATE usage_sweep_position SET swept_to = $1`, [new Date(monthStart)])
          await insertMessages(db, messages)

          // Commits of status changes, round by round (step i of each path in round i), each
          // round's events published; every pass takes a random part of what is published, shuffled,
          // plus duplicates of events already taken.
          const published: { message_id: string; customer_id: string }[] = []
          const taken: (typeof published)[number][] = []
          const pass = async () => {
            const pick = published.filter(() => random() < 0.6)
            for (const e of pick) published.splice(published.indexOf(e), 1)
            const dups = taken.filter(() => random() < 0.2)
            const batch = [...pick, ...dups].sort(() => random() - 0.5)
            taken.push(...pick)
            await recomputeBuckets(db, batch.map(keyOfEvent))
            await sweepAccepted(db)
          }
          for (let step = 0; ; step++) {
            const changes: Change[] = messages.flatMap((m) => {
              const s = PATHS[m.spec.path]?.[step]
              if (!s) return []
              return [
                {
                  message: m,
                  status: s.status,
                  ...(s.carrier ? { carrier: CARRIERS[m.spec.carrier] } : {}),
                  ...(s.refund ? { refund: true } : {}),
                },
              ]
            })
            if (changes.length === 0) break
            const half = Math.floor(changes.length / 2)
            for (const part of [changes.slice(0, half), changes.slice(half)]) {
              if (part.length === 0) continue
              const events = await applyChanges(db, part)
              published.push(
                ...events.map((e) => ({
                  message_id: e.change.message.id,
                  customer_id: e.change.message.customerId,
                })),
              )
              if (random() < 0.5) await pass()
            }
          }
          do await pass()
          while (published.length > 0)

          for (const [table, seconds] of [
            ['usage_minute', 60],
            ['usage_hour', 3600],
            ['usage_day', 86_400],
          ] as const) {
            assert.deepEqual(
              await rollupRows(db, table, customers),
              await groupByRows(db, seconds, customers),
              table,
            )
          }
          await assertStatusTotals(db, customers, 'after the passes')
          await assertReaderAgrees(db, customers, monthStart, monthStart + 30 * DAY)

          // The report totals per day (migration 0019) equal usage_day summed (all customers so far).
          const totals = async (sql: string) => (await db.query(sql)).rows
          assert.deepEqual(
            await totals(
              `SELECT bucket::text, customer_id::text, messages::text, segments::text, cost_micros::text
                 FROM usage_day_customer ORDER BY 1, 2`,
            ),
            await totals(
              `SELECT bucket::text, customer_id::text, sum(messages)::text AS messages,
                      sum(segments)::text AS segments, sum(cost_micros)::text AS cost_micros
                 FROM usage_day GROUP BY 1, 2 ORDER BY 1, 2`,
            ),
          )
          assert.deepEqual(
            await totals(
              `SELECT bucket::text, carrier, status, messages::text FROM usage_day_carrier
                WHERE messages <> 0 ORDER BY 1, 2, 3`,
            ),
            await totals(
              `SELECT bucket::text, carrier, status, sum(messages)::text AS messages FROM usage_day
                WHERE carrier <> '' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
            ),
          )

          // Replaying every event again (a relay republishing beyond the broker's window) changes nothing.
          const before = await rollupRows(db, 'usage_day', customers)
          await recomputeBuckets(db, taken.map(keyOfEvent))
          assert.deepEqual(await rollupRows(db, 'usage_day', customers), before)
        },
      ),
      { numRuns: 6 },
    )
  })

  it('hours and days take each pass’s minute changes exactly when their rows already hold others', async () => {
    // Dense traffic (one country, priority and carrier): every hour and day row is updated many
    // times by the deltas of different minutes and passes, rows emptied by a status move go away.
    const [c] = await insertCustomers(db, 1)
    const customer = c as string
    const hour0 = Math.floor(Date.now() / DAY) * DAY - DAY + 5 * 3_600_000
    const messages: GenMessage[] = Array.from({ length: 24 }, (_, i) => {
      const at = hour0 + (i % 6) * 60_000 + (i % 2) * 3_600_000 + i * 10
      return {
        id: idAt(at),
        createdAt: at,
        customerId: customer,
        country: 'US',
        priority: 'normal',
        segments: 1 + (i % 3),
        priceMicros: 1000 * (1 + (i % 3)),
      }
    })
    await insertMessages(db, messages)
    const check = async (when: string) => {
      for (const [table, seconds] of [
        ['usage_minute', 60],
        ['usage_hour', 3600],
        ['usage_day', 86_400],
      ] as const)
        assert.deepEqual(
          await rollupRows(db, table, [customer]),
          await groupByRows(db, seconds, [customer]),
          `${table} ${when}`,
        )
      const { rows } = await db.query(
        `SELECT bucket::text, messages::text, segments::text, cost_micros::text FROM usage_day_customer WHERE customer_id = $1`,
        [customer],
      )
      const { rows: want } = await db.query(
        `SELECT bucket::text, sum(messages)::text AS messages, sum(segments)::text AS segments,
                sum(cost_micros)::text AS cost_micros FROM usage_day WHERE customer_id = $1 GROUP BY 1`,
        [customer],
      )
      assert.deepEqual(rows, want, `usage_day_customer ${when}`)
      await assertStatusTotals(db, [customer], when)
    }
    await recomputeBuckets(
      db,
      messages.map((m) => keyOfEvent({ message_id: m.id, customer_id: customer })),
    )
    await check('after the accepts')
    const steps: { status: MessageStatus; carrier?: string; refund?: boolean }[] = [
      { status: 'sending' },
      { status: 'sent', carrier: 'alpha' },
      { status: 'delivered' },
    ]
    for (const [n, step] of steps.entries()) {
      // A third of the messages per pass, so rows of one hour are both added to and taken from.
      for (let part = 0; part < 3; part++) {
        const some = messages.filter((_, i) => i % 3 === part)
        const changes = some.map((m, i) =>
          n === 2 && i % 4 === 0
            ? { message: m, status: 'undelivered' as const }
            : { message: m, ...step, ...(step.carrier ? { carrier: step.carrier } : {}) },
        )
        await applyChanges(db, changes)
        await recomputeBuckets(
          db,
          some.map((m) => keyOfEvent({ message_id: m.id, customer_id: customer })),
        )
        await check(`after ${step.status}, part ${part}`)
      }
    }
    // No row left at zero: every hour and day row holds messages.
    const zero = await db.query(
      `SELECT 1 FROM usage_hour WHERE customer_id = $1 AND messages = 0
       UNION ALL SELECT 1 FROM usage_day WHERE customer_id = $1 AND messages = 0`,
      [customer],
    )
    assert.equal(zero.rowCount, 0)
  })

  it('rollups rebuild recomputes a range from the log, and leaves other ranges alone', async () => {
    const [c] = await insertCustomers(db, 1)
    const customer = c as string
    const t0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY + 3_600_000
    const ms = [0, 30_000, 90_000, DAY].map((d) => ({
      id: idAt(t0 + d),
      createdAt: t0 + d,
      customerId: customer,
      country: 'US',
      priority: 'normal',
      segments: 1,
      priceMicros: 1000,
    }))
    await insertMessages(db, ms)
    // A stale row from a bucket whose messages are gone must go too.
    await db.query(`INSERT INTO usage_minute VALUES ($1, $2, 'US', 'sent', 'normal', '', 5, 5, 5)`, [
      customer,
      new Date(t0 + 5 * 60_000),
    ])
    const n = await rebuildRollups(db, t0, t0 + 10 * 60_000)
    assert.equal(n, 3, 'minutes t0, t0+1, and the stale t0+5')
    assert.deepEqual(
      (await rollupRows(db, 'usage_minute', [customer])).map((r) => [r.messages, r.cost_micros]),
      [
        ['2', '2000'],
        ['1', '1000'],
      ],
    )
    // The next day's message is outside the range: not in the rollups yet.
    assert.equal((await rollupRows(db, 'usage_day', [customer])).length, 1)
    // Passes keep hours and days as sums of the minute rows' changes; a rebuild re-derives them
    // whole, so a drifted hour or day row (a bug, a hand edit) is repaired.
    await db.query(`UPDATE usage_hour SET messages = messages + 7 WHERE customer_id = $1`, [customer])
    await db.query(`UPDATE usage_day SET cost_micros = 1 WHERE customer_id = $1`, [customer])
    await db.query(`UPDATE usage_hour_country SET messages = messages + 3 WHERE customer_id = $1`, [customer])
    await db.query(`UPDATE usage_hour_priority SET segments = 0 WHERE customer_id = $1`, [customer])
    await rebuildRollups(db, t0, t0 + 2 * DAY)
    assert.deepEqual(await rollupRows(db, 'usage_minute', [customer]), await groupByRows(db, 60, [customer]))
    assert.deepEqual(await rollupRows(db, 'usage_hour', [customer]), await groupByRows(db, 3600, [customer]))
    await assertStatusTotals(db, [customer], 'after the rebuild')
    await assertReaderAgrees(db, [customer], t0 - DAY, t0 + 2 * DAY)
    assert.deepEqual(await rollupRows(db, 'usage_day', [customer]), await groupByRows(db, 86_400, [customer]))
  })
})
