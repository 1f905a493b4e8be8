// ClickHouse totals (ADR 0018): per-minute, per-hour and per-day usage, and the same buckets'
// totals by customer and by (carrier, status) ordered by time for the reports, in SummingMergeTree tables that hold *net* sums. They are
// never fed by a materialized view of the versioned per-message table (a redelivered or newer
// version of a message would be added again); instead each table is reconciled, for the keys a
// pass touched, to what the level below says it should be: the desired totals are computed from
// deduplicated state (sms_messages FINAL for minutes, the minute totals for hours, ...), the
// current ones read back, and only the difference is inserted. Reconciling twice inserts nothing;
// a pass that failed half way is completed by the next one. One reconciler at a time (a
// PostgreSQL advisory lock), so two never insert the same difference.

import type { Db } from '../db/db.ts'
import { isUuid } from '../domain/ids.ts'
import {
  BUCKET_MS,
  bucketOf,
  GRANULARITIES,
  type Granularity,
  type RollupKey,
  uniqueKeys,
} from './buckets.ts'
import { type CarrierTotal, type CustomerTotal, toCarriers, toPeriods, type UsageReader } from './usage.ts'

/** The per-message table (ReplacingMergeTree by message, versioned): clickhouse.ts writes it. */
export const MESSAGES_TABLE = 'sms_messages'
const USAGE_TABLE: Record<Granularity, string> = {
  minute: 'sms_usage_minute',
  hour: 'sms_usage_hour',
  day: 'sms_usage_day',
}
/** Per-(bucket, customer) and per-(bucket, carrier, status) totals: the reports' tiles. */
const CUSTOMER_TOTALS: Record<Granularity, string> = {
  minute: 'sms_usage_minute_customer',
  hour: 'sms_usage_hour_customer',
  day: 'sms_usage_day_customer',
}
const CARRIER_TOTALS: Record<Granularity, string> = {
  minute: 'sms_usage_minute_carrier',
  hour: 'sms_usage_hour_carrier',
  day: 'sms_usage_day_carrier',
}
const DIMS = ['country', 'status', 'priority', 'carrier'] as const
const SUMS = ['messages', 'segments', 'cost_micros'] as const

/** Arbitrary constant: one ClickHouse reconciler at a time (read-then-insert-difference is not safe in parallel). */
const RECONCILE_LOCK = 7_200_731_018
/** Minute keys per reconcile round: bounds a statement's size (~0.3 MB of key tuples; max_query_size is raised to 4 MiB). */
const CHUNK = 5000

/** The minimal client the totals need (clickhouse.ts's ClickHouse). */
export interface ClickHouseLike {
  exec(sql: string, body?: string): Promise<string>
  rows<T>(sql: string): Promise<T[]>
}

/** The totals tables, created if missing (18.16: DateTime in seconds, signed sums for differences). */
export function totalsSchema(): string[] {
  const dims = DIMS.map((d) => `${d} String`).join(', ')
  const sums = 'messages Int64, segments Int64, cost_micros Int64'
  const usage = (t: string) => `CREATE TABLE IF NOT EXISTS ${t} (
    bucket DateTime('UTC'), customer_id String, ${dims}, ${sums}
  ) ENGINE = SummingMergeTree((messages, segments, cost_micros))
  PARTITION BY toYYYYMM(bucket)
  ORDER BY (customer_id, bucket, ${DIMS.join(', ')})`
  return [
    usage(USAGE_TABLE.minute),
    usage(USAGE_TABLE.hour),
    usage(USAGE_TABLE.day),
    ...GRANULARITIES.flatMap((g) => [
      `CREATE TABLE IF NOT EXISTS ${CUSTOMER_TOTALS[g]} (bucket DateTime('UTC'), customer_id String, ${sums})
       ENGINE = SummingMergeTree((messages, segments, cost_micros))
       PARTITION BY toYYYYMM(bucket) ORDER BY (bucket, customer_id)`,
      `CREATE TABLE IF NOT EXISTS ${CARRIER_TOTALS[g]} (bucket DateTime('UTC'), carrier String, status String, messages Int64)
       ENGINE = SummingMergeTree((messages))
       PARTITION BY toYYYYMM(bucket) ORDER BY (bucket, carrier, status)`,
    ]),
  ]
}

/** A quoted ClickHouse string literal (18.16 has no query parameters). */
export const quote = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
const sec = (ms: number) => Math.floor(ms / 1000)
const at = (ms: number) => `toDateTime(${sec(ms)}, 'UTC')`

/** What a reconcile covers: the (customer, minute) keys a pass touched, or every minute of [fromMs, toMs). */
export type Scope = { keys: RollupKey[] } | { fromMs: number; toMs: number }

/**
 * The filter selecting scope rows of a table whose time column is `col`, at granularity `g`
 * (keys widened to their g-buckets): an index range on (customer_id, time) and the exact keys.
 */
function where(scope: Scope, col: string, g: Granularity): string {
  if ('fromMs' in scope) {
    const a = bucketOf(scope.fromMs, g)
    const b = Math.ceil(scope.toMs / BUCKET_MS[g]) * BUCKET_MS[g]
    return `${col} >= ${at(a)} AND ${col} < ${at(b)}`
  }
  const keys = uniqueKeys(
    scope.keys.map((k) => ({ customerId: k.customerId, minute: bucketOf(k.minute, g) })),
  )
  const lo = Math.min(...keys.map((k) => k.minute))
  const hi = Math.max(...keys.map((k) => k.minute)) + BUCKET_MS[g]
  const customers = [...new Set(keys.map((k) => k.customerId))].map(quote).join(', ')
  const fn = g === 'minute' ? 'toStartOfMinute' : g === 'hour' ? 'toStartOfHour' : 'toStartOfDay'
  const tuples = keys.map((k) => `(${quote(k.customerId)}, ${sec(k.minute)})`).join(', ')
  return `customer_id IN (${customers}) AND ${col} >= ${at(lo)} AND ${col} < ${at(hi)}
    AND (customer_id, toUInt32(${fn}(${col}))) IN (${tuples})`
}

/** Partition pruning on sms_messages (partitioned by its `day` column). */
function dayFilter(scope: Scope): string {
  const ms = 'fromMs' in scope ? [scope.fromMs, scope.toMs] : scope.keys.map((k) => k.minute)
  const lo = Math.min(...ms)
  const hi = Math.max(...ms) + BUCKET_MS.minute
  return `day >= toDate(${at(lo)}) AND day <= toDate(${at(hi)})`
}

/**
 * Inserts into `table` the difference `desired − current` (both queries: `keys` columns, `bucket`
 * as epoch seconds, and `sums`, one row per key) so that the table's net sums equal `desired` for
 * every key either query returns. One INSERT … SELECT: the rows never leave the server, and a
 * reconcile writes one part per table and partition.
 */
async function settle(
  ch: ClickHouseLike,
  table: string,
  keys: readonly string[],
  sums: readonly string[],
  desiredSql: string,
  currentSql: string,
): Promise<void> {
  const branch = (sql: string, sign: string) =>
    `SELECT ${keys.map((k) => `${k} AS k_${k}`).join(', ')}, ${sums.map((v) => `${sign}toInt64(${v}) AS v_${v}`).join(', ')}
       FROM (${sql})`
  await ch.exec(
    `INSERT INTO ${table} (${[...keys, ...sums].join(', ')})
     SELECT ${keys.map((k) => (k === 'bucket' ? `toDateTime(k_bucket, 'UTC')` : `k_${k}`)).join(', ')},
            ${sums.map((v) => `sum(v_${v})`).join(', ')}
       FROM (${branch(desiredSql, '')} UNION ALL ${branch(currentSql, '-')})
      GROUP BY ${keys.map((k) => `k_${k}`).join(', ')}
     HAVING ${sums.map((v) => `sum(v_${v}) != 0`).join(' OR ')}`,
  )
}

const SUM_COLS = SUMS.map((s) => `sum(${s}) AS ${s}`).join(', ')
const USAGE_KEYS = ['customer_id', 'bucket', ...DIMS] as const

/** Settles one usage level (minute, hour or day) for the scope from the rows below it. */
function settleUsage(ch: ClickHouseLike, g: Granularity, scope: Scope): Promise<void> {
  const fn = g === 'minute' ? 'toStartOfMinute' : g === 'hour' ? 'toStartOfHour' : 'toStartOfDay'
  const group = `GROUP BY customer_id, bucket, ${DIMS.join(', ')}`
  const desired =
    g === 'minute'
      ? `SELECT customer_id, toUInt32(toStartOfMinute(created_at)) AS bucket, ${DIMS.join(', ')},
                count() AS messages, sum(segments) AS segments, sum(cost_micros) AS cost_micros
           FROM ${MESSAGES_TABLE} FINAL
          WHERE ${dayFilter(scope)} AND ${where(scope, 'created_at', 'minute')} ${group}`
      : `SELECT customer_id, toUInt32(${fn}(bucket)) AS b, ${DIMS.join(', ')}, ${SUM_COLS}
           FROM ${g === 'hour' ? USAGE_TABLE.minute : USAGE_TABLE.hour}
          WHERE ${where(scope, 'bucket', g)} GROUP BY customer_id, b, ${DIMS.join(', ')}`
  // (18.16 resolves an alias named like a column inside the aggregate; hence `b` above, renamed here.)
  const desiredSql =
    g === 'minute'
      ? desired
      : `SELECT customer_id, b AS bucket, ${DIMS.join(', ')}, ${SUMS.join(', ')} FROM (${desired})`
  const current = `SELECT customer_id, toUInt32(bucket) AS b, ${DIMS.join(', ')}, ${SUM_COLS}
     FROM ${USAGE_TABLE[g]} WHERE ${where(scope, 'bucket', g)} GROUP BY customer_id, b, ${DIMS.join(', ')}`
  return settle(
    ch,
    USAGE_TABLE[g],
    USAGE_KEYS,
    SUMS,
    desiredSql,
    `SELECT customer_id, b AS bucket, ${DIMS.join(', ')}, ${SUMS.join(', ')} FROM (${current})`,
  )
}

/** Settles the per-(hour|day, customer) totals of the scope's buckets from that level's usage rows. */
function settleCustomerTotals(ch: ClickHouseLike, g: Granularity, scope: Scope): Promise<void> {
  const q = (table: string) =>
    `SELECT customer_id, b AS bucket, ${SUMS.join(', ')} FROM (
       SELECT customer_id, toUInt32(bucket) AS b, ${SUM_COLS} FROM ${table}
        WHERE ${where(scope, 'bucket', g)} GROUP BY customer_id, b)`
  return settle(
    ch,
    CUSTOMER_TOTALS[g],
    ['customer_id', 'bucket'],
    SUMS,
    q(USAGE_TABLE[g]),
    q(CUSTOMER_TOTALS[g]),
  )
}

/** Settles the per-(hour|day, carrier, status) totals of these buckets from every customer's usage rows. */
function settleCarrierTotals(ch: ClickHouseLike, g: Granularity, buckets: number[]): Promise<void> {
  if (buckets.length === 0) return Promise.resolve()
  const inBuckets = `toUInt32(bucket) IN (${buckets.map(sec).join(', ')})`
  const q = (table: string, extra: string) =>
    `SELECT b AS bucket, carrier, status, messages FROM (
       SELECT toUInt32(bucket) AS b, carrier, status, sum(messages) AS messages FROM ${table}
        WHERE ${inBuckets}${extra} GROUP BY b, carrier, status)`
  return settle(
    ch,
    CARRIER_TOTALS[g],
    ['bucket', 'carrier', 'status'],
    ['messages'],
    q(USAGE_TABLE[g], ` AND carrier != ''`),
    q(CARRIER_TOTALS[g], ''),
  )
}

async function settleScope(ch: ClickHouseLike, scope: Scope): Promise<void> {
  for (const g of ['minute', 'hour', 'day'] as const) await settleUsage(ch, g, scope)
  for (const g of GRANULARITIES) await settleCustomerTotals(ch, g, scope)
}

/** The hour or day buckets (epoch ms) a scope reaches. */
function bucketsOf(scope: Scope, g: Granularity): number[] {
  if ('keys' in scope) return [...new Set(scope.keys.map((k) => bucketOf(k.minute, g)))]
  const out: number[] = []
  for (let b = bucketOf(scope.fromMs, g); b < scope.toMs; b += BUCKET_MS[g]) out.push(b)
  return out
}

/**
 * Brings every totals table in line with sms_messages for the scope, under the reconcile lock.
 * Idempotent: when everything already agrees it inserts nothing.
 */
export async function reconcileTotals(db: Db, ch: ClickHouseLike, scope: Scope): Promise<void> {
  const keys = 'keys' in scope ? uniqueKeys(scope.keys.filter((k) => isUuid(k.customerId))) : undefined
  if (keys?.length === 0) return
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [RECONCILE_LOCK])
    if (keys)
      for (let i = 0; i < keys.length; i += CHUNK) await settleScope(ch, { keys: keys.slice(i, i + CHUNK) })
    else await settleScope(ch, scope)
    const all = keys ? { keys } : scope
    for (const g of GRANULARITIES) await settleCarrierTotals(ch, g, bucketsOf(all, g))
  })
}

/**
 * [fromMs, toMs) (whole minutes) cut into the coarsest tiles: whole days in the middle, whole
 * hours next to them, minutes at the edges. Each tile is read from its own totals.
 */
export function tiles(fromMs: number, toMs: number): { g: Granularity; fromMs: number; toMs: number }[] {
  const out: { g: Granularity; fromMs: number; toMs: number }[] = []
  const cut = (a: number, b: number, g: Granularity) => {
    if (a >= b) return
    if (g === 'minute') {
      out.push({ g, fromMs: a, toMs: b })
      return
    }
    const lo = Math.ceil(a / BUCKET_MS[g]) * BUCKET_MS[g]
    const hi = Math.floor(b / BUCKET_MS[g]) * BUCKET_MS[g]
    const finer: Granularity = g === 'day' ? 'hour' : 'minute'
    if (lo >= hi) return cut(a, b, finer)
    cut(a, lo, finer)
    out.push({ g, fromMs: lo, toMs: hi })
    cut(hi, b, finer)
  }
  cut(bucketOf(fromMs, 'minute'), Math.ceil(toMs / BUCKET_MS.minute) * BUCKET_MS.minute, 'day')
  return out
}

const inRange = (t: { fromMs: number; toMs: number }) =>
  `bucket >= ${at(t.fromMs)} AND bucket < ${at(t.toMs)}`
const ORDER: Record<string, string> = { messages: 'n', segments: 'segs', cost: 'cost' }

/** Usage and reports from the totals: no FINAL, no per-message rows. */
export function createClickHouseUsageReader(ch: ClickHouseLike): UsageReader {
  return {
    async usage(q) {
      if (!isUuid(q.customerId)) return []
      const grp = q.groupBy ? `, ${q.groupBy} AS grp` : ''
      const rows = await ch.rows<{
        period: string
        grp?: string
        status: string
        n: string
        segs: string
        cost: string
      }>(
        `SELECT toUInt64(toUInt32(bucket)) * 1000 AS period${grp}, status,
                sum(messages) AS n, sum(segments) AS segs, sum(cost_micros) AS cost
           FROM ${USAGE_TABLE[q.granularity]}
          WHERE customer_id = ${quote(q.customerId)} AND ${inRange(q)}
          GROUP BY period${q.groupBy ? ', grp' : ''}, status
         HAVING n != 0`,
      )
      return toPeriods(
        rows.map((r) => ({
          period: Number(r.period),
          grp: r.grp,
          status: r.status,
          messages: Number(r.n),
          segments: Number(r.segs),
          cost: Number(r.cost),
        })),
      )
    },

    async topCustomers(fromMs, toMs, order, limit): Promise<CustomerTotal[]> {
      const parts = tiles(fromMs, toMs).map(
        (t) =>
          `SELECT customer_id, messages, segments, cost_micros FROM ${CUSTOMER_TOTALS[t.g]} WHERE ${inRange(t)}`,
      )
      const rows = await ch.rows<{ customer_id: string; n: string; segs: string; cost: string }>(
        `SELECT customer_id, sum(messages) AS n, sum(segments) AS segs, sum(cost_micros) AS cost
           FROM (${parts.join(' UNION ALL ')})
          GROUP BY customer_id HAVING n != 0
          ORDER BY ${ORDER[order] ?? 'n'} DESC, customer_id
          LIMIT ${Math.max(0, Math.floor(limit))}`,
      )
      return rows.map((r) => ({
        customerId: r.customer_id,
        messages: Number(r.n),
        segments: Number(r.segs),
        costMicros: Number(r.cost),
      }))
    },

    async carriers(fromMs, toMs): Promise<CarrierTotal[]> {
      const parts = tiles(fromMs, toMs).map(
        (t) => `SELECT carrier, status, messages FROM ${CARRIER_TOTALS[t.g]} WHERE ${inRange(t)}`,
      )
      const rows = await ch.rows<{ carrier: string; status: string; n: string }>(
        `SELECT carrier, status, sum(messages) AS n FROM (${parts.join(' UNION ALL ')})
          GROUP BY carrier, status HAVING n != 0 ORDER BY carrier, status`,
      )
      return toCarriers(rows.map((r) => ({ carrier: r.carrier, status: r.status, messages: Number(r.n) })))
    },
  }
}
