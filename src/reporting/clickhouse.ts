// The ClickHouse sink (ADR 0014 "ClickHouse", ADR 0018): one row per message in a
// ReplacingMergeTree keyed by (customer_id, created_at, message_id) and versioned by the
// message's status_updated_at. The sink writes the message's current state read from PostgreSQL
// for each status event (and each new accept), so a redelivered or duplicated event writes the
// same row again and FINAL keeps one per message; then it reconciles the usage totals of the
// (customer, minute) keys it touched (clickhouse-totals.ts), which the reports read. Written for
// ClickHouse 18.16 (Debian): DateTime in seconds, no TTL, no async_insert, no query parameters
// (literals are quoted), HTTP only.

import { Agent, request } from 'undici'
import type { Bus } from '../bus/bus.ts'
import type { Db, Queryable } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'
import { BUCKET_MS, bucketOf, type RollupKey, uuidFloor } from './buckets.ts'
import { reconcileTotals, MESSAGES_TABLE as TABLE, totalsSchema } from './clickhouse-totals.ts'
import { createHeldConsumer, type HeldConsumer } from './held-consumer.ts'
import { costOfMessage, REFUNDED, sweepSince } from './rollups.ts'

export { createClickHouseUsageReader, quote, reconcileTotals } from './clickhouse-totals.ts'

export const CLICKHOUSE_DURABLE = 'clickhouse'

export interface ClickHouse {
  /** Runs one statement; returns the body (use FORMAT JSON for rows). */
  exec(sql: string, body?: string): Promise<string>
  rows<T>(sql: string): Promise<T[]>
  /** Runs a statement without the URL's database (which may not exist yet). */
  bootstrap(sql: string): Promise<string>
}

/** A client over the HTTP interface of `url` (e.g. http://127.0.0.1:8123/?database=smsgw; user/password as query parameters). */
export function createClickHouse(url: string): ClickHouse {
  const base = new URL(url)
  // ClickHouse closes idle keep-alive connections after 3 s (keep_alive_timeout) without saying
  // so in a header; undici's default keeps them 4 s, so a request sent 3–4 s after the last one
  // met a closed socket ("other side closed", EPIPE). Idle connections are dropped after 1 s here.
  const agent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 })
  // The reconcile's statements list the keys they touch (up to ~0.5 MB); the default limit is 256 KiB.
  if (!base.searchParams.has('max_query_size')) base.searchParams.set('max_query_size', '4194304')
  const exec = async (sql: string, body?: string, withDatabase = true): Promise<string> => {
    const u = new URL(base)
    if (!withDatabase) u.searchParams.delete('database')
    // With a body the statement goes in the query string (INSERT ... FORMAT), else in the body.
    if (body !== undefined) u.searchParams.set('query', sql)
    const res = await request(u, {
      method: 'POST',
      body: body ?? sql,
      headersTimeout: 120_000,
      dispatcher: agent,
    })
    const text = await res.body.text()
    if (res.statusCode !== 200) throw new Error(`clickhouse ${res.statusCode}: ${text.slice(0, 500)}`)
    return text
  }
  return {
    exec: (sql, body) => exec(sql, body),
    async rows<T>(sql: string): Promise<T[]> {
      // A read is retried once if the connection broke (never an insert: the reconcile's
      // differences must not be inserted twice; a failed pass is redone from fresh reads instead).
      let text: string
      try {
        text = await exec(`${sql} FORMAT JSON`)
      } catch (err) {
        if (!brokenConnection(err)) throw err
        text = await exec(`${sql} FORMAT JSON`)
      }
      return (JSON.parse(text) as { data: T[] }).data
    },
    bootstrap: (sql) => exec(sql, undefined, false),
  }
}

const brokenConnection = (err: unknown) =>
  ['UND_ERR_SOCKET', 'EPIPE', 'ECONNRESET'].includes(String((err as { code?: unknown } | null)?.code))

/** Creates the database (when the URL names one) and the table, if missing. */
export async function ensureClickHouseSchema(ch: ClickHouse, url: string): Promise<void> {
  const database = new URL(url).searchParams.get('database')
  if (database) {
    if (!/^\w+$/.test(database))
      throw new Error(`CLICKHOUSE_URL: database name ${database} is not a plain identifier`)
    await ch.bootstrap(`CREATE DATABASE IF NOT EXISTS ${database}`)
  }
  await ch.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (
    day Date,
    created_at DateTime('UTC'),
    customer_id String,
    message_id String,
    country String,
    status String,
    priority String,
    carrier String,
    segments UInt32,
    cost_micros Int64,
    version UInt64
  ) ENGINE = ReplacingMergeTree(version)
  PARTITION BY toYYYYMM(day)
  ORDER BY (customer_id, created_at, message_id)`)
  for (const sql of totalsSchema()) await ch.exec(sql)
}

interface Row {
  day: string
  created_at: string
  customer_id: string
  message_id: string
  country: string
  status: string
  priority: string
  carrier: string
  segments: number
  cost_micros: string
  version: string
}

const ROW_SELECT = `to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
  floor(extract(epoch FROM m.created_at))::bigint::text AS created_at,
  m.customer_id::text, m.id::text AS message_id, m.country, m.status, m.priority,
  coalesce(d.carrier, '') AS carrier, m.segments, (${costOfMessage('$9')})::text AS cost_micros,
  floor(extract(epoch FROM m.status_updated_at) * 1000000)::bigint::text AS version`

/** The current state of these messages (by id; the v7 time bounds the partition). */
async function messageRows(db: Queryable, ids: string[]): Promise<Row[]> {
  if (ids.length === 0) return []
  const lo = ids.map((id) => new Date(bucketOf(uuidV7Time(id) ?? 0, 'minute')))
  const { rows } = await db.query<Row>(
    `SELECT ${ROW_SELECT.replace('$9', '$3')}
       FROM unnest($1::uuid[], $2::timestamptz[]) AS k(id, lo)
       JOIN messages m ON m.id = k.id AND m.created_at >= k.lo AND m.created_at < k.lo + interval '1 minute'
       LEFT JOIN deliveries d ON d.message_id = m.id`,
    [ids, lo, REFUNDED],
  )
  return rows
}

/** Messages created in [fromMs, toMs), through the id index (ids carry created_at). */
async function rowsCreatedIn(db: Queryable, fromMs: number, toMs: number): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${ROW_SELECT.replace('$9', '$5')}
       FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id
      WHERE m.id >= $1::uuid AND m.id < $2::uuid AND m.created_at >= $3 AND m.created_at < $4`,
    [uuidFloor(fromMs), uuidFloor(toMs), new Date(fromMs), new Date(toMs), REFUNDED],
  )
  return rows
}

const INSERT_BATCH = 50_000

/** Writes rows in batches of JSONEachRow; a batch written twice is harmless (same versions). */
async function insertRows(ch: ClickHouse, rows: Row[]): Promise<number> {
  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    const body = rows
      .slice(i, i + INSERT_BATCH)
      .map((r) => JSON.stringify({ ...r, segments: Number(r.segments) }))
      .join('\n')
    await ch.exec(`INSERT INTO ${TABLE} FORMAT JSONEachRow`, body)
  }
  return rows.length
}

/** The (customer, minute) key of a row. */
const keyOfRow = (r: Row): RollupKey => ({
  customerId: r.customer_id,
  minute: bucketOf(Number(r.created_at) * 1000, 'minute'),
})

/**
 * Copies every message created in [fromMs, toMs) (widened to whole minutes) to ClickHouse and
 * reconciles that range's totals, a day at a time (history, or a repair). Idempotent: rows
 * written again carry the same versions, and the totals are set, not added to.
 */
export async function backfillClickHouse(
  db: Db,
  ch: ClickHouse,
  fromMs: number,
  toMs: number,
  onDay?: (dayMs: number, messages: number) => void,
): Promise<number> {
  let n = 0
  const start = bucketOf(fromMs, 'minute')
  const end = Math.ceil(toMs / BUCKET_MS.minute) * BUCKET_MS.minute
  for (let a = start; a < end; ) {
    const b = Math.min(bucketOf(a, 'day') + BUCKET_MS.day, end)
    const m = await insertRows(ch, await rowsCreatedIn(db, a, b))
    await reconcileTotals(db, ch, { fromMs: a, toMs: b })
    onDay?.(bucketOf(a, 'day'), m)
    n += m
    a = b
  }
  return n
}

export interface ClickHouseSinkOptions {
  db: Db
  bus: Bus
  ch: ClickHouse
  /** How often held events are written, ms (default 5 000). */
  intervalMs?: number
  maxPending?: number
  onPass?: (p: { keys: number; events: number; lagMs: number }) => void
  onError: (err: unknown) => void
}

/**
 * The sink: its own durable on sms.status.>; each pass writes the current state of the messages
 * its events name, and of the messages accepted since its last sweep, then acks (at least once).
 */
export function createClickHouseSink(opts: ClickHouseSinkOptions): HeldConsumer {
  const { db, ch } = opts
  const inner = createHeldConsumer({
    bus: opts.bus,
    durable: CLICKHOUSE_DURABLE,
    intervalMs: opts.intervalMs ?? 5_000,
    maxPending: opts.maxPending ?? 50_000,
    ...(opts.onPass ? { onPass: opts.onPass } : {}),
    onError: opts.onError,
    apply: async (events) => {
      const ids = [...new Set(events.map((e) => e.message_id))]
      const rows = await messageRows(db, ids)
      let n = await insertRows(ch, rows)
      const keys: RollupKey[] = [
        ...rows.map(keyOfRow),
        ...events.map((e) => ({
          customerId: e.customer_id,
          minute: bucketOf(uuidV7Time(e.message_id) ?? 0, 'minute'),
        })),
      ]
      // The totals are reconciled before the sweep position moves: a failed reconcile leaves
      // the swept messages to the next pass (the events are redelivered anyway).
      let reconciled = false
      n += await sweepSince(db, CLICKHOUSE_DURABLE, 10_000, async (from, to) => {
        const swept = await rowsCreatedIn(db, from, to)
        await insertRows(ch, swept)
        await reconcileTotals(db, ch, { keys: [...keys, ...swept.map(keyOfRow)] })
        reconciled = true
        return swept.length
      })
      if (!reconciled) await reconcileTotals(db, ch, { keys })
      return n
    },
  })
  return {
    ...inner,
    async start() {
      await db.query(
        `INSERT INTO usage_sweep_position (name, swept_to) VALUES ($1, now()) ON CONFLICT (name) DO NOTHING`,
        [CLICKHOUSE_DURABLE],
      )
      await inner.start()
    },
  }
}
