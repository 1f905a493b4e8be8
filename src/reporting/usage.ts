// Reads of the PostgreSQL rollups: a customer's usage (GET /v1/usage) and the operator's reports.
// `UsageReader` is the port ClickHouse implements too (clickhouse.ts).

import type { Queryable } from '../db/db.ts'
import { BUCKET_MS, type Granularity } from './buckets.ts'
import { TOTALS } from './rollups.ts'

export type UsageGroup = 'country' | 'status' | 'priority'

export interface UsageQuery {
  customerId: string
  granularity: Granularity
  fromMs: number
  toMs: number
  groupBy?: UsageGroup
}

export interface UsagePeriod {
  periodStart: number
  /** The group_by value, when grouped. */
  group?: string
  messages: number
  segments: number
  costMicros: number
  byStatus: Record<string, number>
}

export interface CustomerTotal {
  customerId: string
  messages: number
  segments: number
  costMicros: number
}

export interface CarrierTotal {
  carrier: string
  submitted: number
  byStatus: Record<string, number>
}

export type TopOrder = 'messages' | 'segments' | 'cost'

export interface UsageReader {
  usage(q: UsageQuery): Promise<UsagePeriod[]>
  topCustomers(fromMs: number, toMs: number, order: TopOrder, limit: number): Promise<CustomerTotal[]>
  carriers(fromMs: number, toMs: number): Promise<CarrierTotal[]>
}

const TABLE: Record<Granularity, string> = { minute: 'usage_minute', hour: 'usage_hour', day: 'usage_day' }

/**
 * What usage() reads: the totals (TOTALS: per status of minutes and hours, per country and per
 * priority of hours), one row per (bucket, group, status) already — group_by=status reads the
 * per-status totals, its group being the status; otherwise (days; minutes by country or
 * priority) the dimension rows, summed per (bucket, group, status) first.
 */
function usageSource(g: Granularity, groupBy: UsageGroup | undefined): string {
  const table = `usage_${g}_${groupBy && groupBy !== 'status' ? groupBy : 'status'}`
  const grp = groupBy ? `${groupBy} AS grp, ` : ''
  if (TOTALS.some((t) => t.table === table))
    return `(SELECT customer_id, bucket, ${grp}status, messages, segments, cost_micros FROM ${table})`
  return `(SELECT customer_id, bucket, ${grp}status, sum(messages) AS messages, sum(segments) AS segments,
                  sum(cost_micros) AS cost_micros
             FROM ${TABLE[g]} WHERE customer_id = $1 AND bucket >= $2 AND bucket < $3
            GROUP BY customer_id, bucket${groupBy ? `, ${groupBy}` : ''}, status)`
}

// Whole-day report ranges read the per-day totals (migration 0019) instead of usage_day.
const ORDER_COLUMN: Record<TopOrder, string> = {
  messages: 'messages',
  segments: 'segments',
  cost: 'cost_micros',
}

/** The coarsest rollup whose buckets tile [from, to) exactly. */
export function tilingGranularity(fromMs: number, toMs: number): Granularity {
  const fits = (g: Granularity) => fromMs % BUCKET_MS[g] === 0 && toMs % BUCKET_MS[g] === 0
  return fits('day') ? 'day' : fits('hour') ? 'hour' : 'minute'
}

const num = (v: string | number | null) => Number(v ?? 0)

/** Groups (period, group, status) rows into periods with a by_status map, in period order. */
export function toPeriods(
  rows: {
    period: number
    grp?: string | undefined
    status: string
    messages: number
    segments: number
    cost: number
  }[],
): UsagePeriod[] {
  const out = new Map<string, UsagePeriod>()
  for (const r of rows) {
    const k = `${r.period}/${r.grp ?? ''}`
    let p = out.get(k)
    if (!p) {
      p = { periodStart: r.period, messages: 0, segments: 0, costMicros: 0, byStatus: {} }
      if (r.grp !== undefined) p.group = r.grp
      out.set(k, p)
    }
    p.messages += r.messages
    p.segments += r.segments
    p.costMicros += r.cost
    p.byStatus[r.status] = (p.byStatus[r.status] ?? 0) + r.messages
  }
  return [...out.values()].sort(byPeriodThenGroup)
}

/** Periods in time order, groups in code-unit order (PostgreSQL's COLLATE "C", not the locale's). */
const byPeriodThenGroup = (a: UsagePeriod, b: UsagePeriod) =>
  a.periodStart - b.periodStart ||
  ((a.group ?? '') < (b.group ?? '') ? -1 : (a.group ?? '') > (b.group ?? '') ? 1 : 0)

/** Groups (carrier, status, messages) rows into per-carrier totals. */
export function toCarriers(rows: { carrier: string; status: string; messages: number }[]): CarrierTotal[] {
  const out = new Map<string, CarrierTotal>()
  for (const r of rows) {
    const c = out.get(r.carrier) ?? { carrier: r.carrier, submitted: 0, byStatus: {} }
    c.submitted += r.messages
    c.byStatus[r.status] = r.messages
    out.set(r.carrier, c)
  }
  return [...out.values()]
}

/** A row of usage()'s query: one (period, group) with its by_status counts. */
export interface PeriodRow {
  period: string
  grp?: string
  messages: string
  segments: string
  cost: string
  by_status: Record<string, number>
}

/** by_status's counts are JSON numbers already (bigint sums well below 2^53). */
export function toUsagePeriod(r: PeriodRow): UsagePeriod {
  const p: UsagePeriod = {
    periodStart: num(r.period),
    messages: num(r.messages),
    segments: num(r.segments),
    costMicros: num(r.cost),
    byStatus: r.by_status,
  }
  if (r.grp !== undefined) p.group = r.grp
  return p
}

export function createPgUsageReader(db: Queryable): UsageReader {
  return {
    async usage(q) {
      // One row per (period, group) with by_status built by PostgreSQL from rows that are already
      // one per (period, group, status): a busy customer's 30 days of hours grouped by country is
      // ~4,300 rows to send, parse and fold instead of ~17,000.
      const grp = q.groupBy ? ', grp' : ''
      const args = [q.customerId, new Date(q.fromMs), new Date(q.toMs)]
      // group_by=status over the per-status totals: each row is a (period, group) already.
      const { rows } =
        q.groupBy === 'status' && q.granularity !== 'day'
          ? await db.query<PeriodRow>(
              `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text AS period, status AS grp,
                      messages::text, segments::text, cost_micros::text AS cost,
                      json_build_object(status, messages) AS by_status
                 FROM usage_${q.granularity}_status
                WHERE customer_id = $1 AND bucket >= $2 AND bucket < $3
                ORDER BY bucket, status COLLATE "C"`,
              args,
            )
          : await db.query<PeriodRow>(
              `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text AS period${grp},
                      sum(messages)::text AS messages, sum(segments)::text AS segments, sum(cost_micros)::text AS cost,
                      json_object_agg(status, messages) AS by_status
                 FROM ${usageSource(q.granularity, q.groupBy)} s
                WHERE customer_id = $1 AND bucket >= $2 AND bucket < $3
                GROUP BY bucket${grp}
                ORDER BY bucket${q.groupBy ? ', grp COLLATE "C"' : ''}`,
              args,
            )
      // In order already.
      return rows.map(toUsagePeriod)
    },

    async topCustomers(fromMs, toMs, order, limit) {
      const { rows } = await db.query<{
        customer_id: string
        messages: string
        segments: string
        cost: string
      }>(
        `SELECT customer_id::text, sum(messages)::text AS messages, sum(segments)::text AS segments,
                sum(cost_micros)::text AS cost
           FROM ${tilingGranularity(fromMs, toMs) === 'day' ? 'usage_day_customer' : TABLE[tilingGranularity(fromMs, toMs)]}
          WHERE bucket >= $1 AND bucket < $2
          GROUP BY customer_id
          ORDER BY sum(${ORDER_COLUMN[order]}) DESC, customer_id
          LIMIT $3`,
        [new Date(fromMs), new Date(toMs), limit],
      )
      return rows.map((r) => ({
        customerId: r.customer_id,
        messages: num(r.messages),
        segments: num(r.segments),
        costMicros: num(r.cost),
      }))
    },

    async carriers(fromMs, toMs) {
      const { rows } = await db.query<{ carrier: string; status: string; messages: string }>(
        `SELECT carrier, status, sum(messages)::text AS messages
           FROM ${tilingGranularity(fromMs, toMs) === 'day' ? 'usage_day_carrier' : TABLE[tilingGranularity(fromMs, toMs)]}
          WHERE bucket >= $1 AND bucket < $2 AND carrier <> ''
          GROUP BY carrier, status HAVING sum(messages) <> 0 ORDER BY carrier, status`,
        [new Date(fromMs), new Date(toMs)],
      )
      return toCarriers(rows.map((r) => ({ ...r, messages: num(r.messages) })))
    },
  }
}

export interface ReceiptLatency {
  carrier: string
  receipts: number
  p50Ms: number | null
  p95Ms: number | null
}

/**
 * Time from a message's first `sent` to its first receipt (delivered / undelivered) per carrier,
 * for receipts recorded in [from, to). Read from the message log (message_events), not the rollups: a percentile cannot be
 * summed from buckets. Its cost grows with the receipts of the range.
 */
export async function receiptLatency(db: Queryable, fromMs: number, toMs: number): Promise<ReceiptLatency[]> {
  const { rows } = await db.query<{
    carrier: string
    receipts: number
    p50: number | null
    p95: number | null
  }>(
    `WITH f AS (
       SELECT message_id, min(created_at) AS at FROM message_events
        WHERE status IN ('delivered', 'undelivered') AND created_at >= $1 AND created_at < $2
        GROUP BY message_id
     ), s AS (
       SELECT e.message_id, min(e.created_at) AS at
         FROM message_events e JOIN f ON f.message_id = e.message_id
        WHERE e.status = 'sent' GROUP BY e.message_id
     )
     SELECT d.carrier, count(*)::int AS receipts,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - s.at)) * 1000 AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - s.at)) * 1000 AS p95
       FROM f JOIN s ON s.message_id = f.message_id
       JOIN deliveries d ON d.message_id = f.message_id
      WHERE d.carrier IS NOT NULL
      GROUP BY d.carrier`,
    [new Date(fromMs), new Date(toMs)],
  )
  return rows.map((r) => ({
    carrier: r.carrier,
    receipts: Number(r.receipts),
    p50Ms: r.p50 === null ? null : Math.round(Number(r.p50)),
    p95Ms: r.p95 === null ? null : Math.round(Number(r.p95)),
  }))
}
