// Usage rollups (ADR 0014): minute rows are recomputed from the message log for each (customer,
// minute) a change touched — only the rows that differ are written — and their differences are
// added to the hour and day rows and the day totals in the same transaction, under one lock, so
// those stay exactly the sums of the minute rows. A recompute is a pure function of the log, so an
// event applied twice or out of order changes nothing; `smsgw rollups rebuild` recomputes a time
// range and re-derives its hours and days whole from the minute rows (repairing any drift).

import type { Db, Queryable } from '../db/db.ts'
import { REFUNDED_WHEN_UNSENT } from '../domain/status.ts'
import { BUCKET_MS, bucketOf, type RollupKey, uniqueKeys, uuidFloor } from './buckets.ts'

/** Arbitrary constant: one rollup writer at a time (a delete-then-insert of a bucket is not safe in parallel). */
const ROLLUP_LOCK = 7_200_731_014
/** Keys per transaction: bounds a transaction's length and its row locks. */
const CHUNK = 2000
const DIMENSIONS = 'country, status, priority, carrier'
export const REFUNDED = [...REFUNDED_WHEN_UNSENT]

/**
 * Totals of each (customer, minute | hour) per `keys` (status last), each exactly the dimension
 * rows of its granularity summed over the other dimensions: per status (migration 0022) for
 * GET /v1/usage without group_by or with group_by=status, per country and per priority of each
 * hour (migration 0024) for group_by=country | priority. Not per minute: each table adds an upsert
 * of every changed row to each pass, and a minute's dimension rows are few already.
 */
export const TOTALS = [
  { table: 'usage_minute_status', from: 'usage_minute', g: 'minute', keys: 'status' },
  { table: 'usage_hour_status', from: 'usage_hour', g: 'hour', keys: 'status' },
  { table: 'usage_hour_country', from: 'usage_hour', g: 'hour', keys: 'country, status' },
  { table: 'usage_hour_priority', from: 'usage_hour', g: 'hour', keys: 'priority, status' },
] as const

/** What the customer pays for message `m`: its price less its refunds (looked up only for statuses that can be refunded). */
export const costOfMessage = (refundedParam: string) =>
  `m.price_micros - CASE WHEN m.status = ANY(${refundedParam}::text[])
     THEN (SELECT coalesce(sum(l.amount), 0) FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund')
     ELSE 0 END`

/**
 * Recomputes the given (customer, minute) buckets and the hours and days that hold them. Returns
 * the keys done. `full`: the hours and days (and the day totals) are re-derived whole from the
 * finer rows (`rollups rebuild`); otherwise they take the minute rows' changes as deltas.
 */
export async function recomputeBuckets(
  db: Db,
  keys: Iterable<RollupKey>,
  opts: { full?: boolean } = {},
): Promise<number> {
  const all = uniqueKeys(keys)
  for (let i = 0; i < all.length; i += CHUNK) {
    const chunk = all.slice(i, i + CHUNK)
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK])
      await recomputeLocked(tx, chunk, opts.full ?? false)
    })
  }
  return all.length
}

const KEY_COLUMNS = `customer_id, bucket, ${DIMENSIONS}`

/** The buckets' rows as the message log says they are: (customer, minute) keys in $1..$4, refunded statuses in $5. */
const FRESH_MINUTE_ROWS = `
  SELECT k.c AS customer_id, k.b AS bucket, m.country, m.status, m.priority, coalesce(d.carrier, '') AS carrier,
         count(*)::bigint AS messages, sum(m.segments)::bigint AS segments,
         sum(${costOfMessage('$5')})::bigint AS cost_micros
    FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[]) AS k(c, b, lo, hi)
    JOIN messages m ON m.customer_id = k.c AND m.id >= k.lo AND m.id < k.hi
                   AND m.created_at >= k.b AND m.created_at < k.b + interval '1 minute'
    LEFT JOIN deliveries d ON d.message_id = m.id
   GROUP BY k.c, k.b, m.country, m.status, m.priority, coalesce(d.carrier, '')`

/**
 * Writes the minute rows that differ from the log (changed, new or gone) and returns each
 * difference as a delta (new − old) for the coarser rollups.
 */
const MINUTE_DIFF = `
WITH fresh AS (${FRESH_MINUTE_ROWS}),
cur AS (
  SELECT r.customer_id, r.bucket, r.country, r.status, r.priority, r.carrier, r.messages, r.segments, r.cost_micros
    FROM unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
    JOIN usage_minute r ON r.customer_id = k.c AND r.bucket = k.b
),
diff AS (
  SELECT ${KEY_COLUMNS}, f.messages AS fm, f.segments AS fs, f.cost_micros AS fc,
         coalesce(f.messages, 0) - coalesce(o.messages, 0) AS dm,
         coalesce(f.segments, 0) - coalesce(o.segments, 0) AS ds,
         coalesce(f.cost_micros, 0) - coalesce(o.cost_micros, 0) AS dc
    FROM fresh f FULL JOIN cur o USING (${KEY_COLUMNS})
   WHERE (f.messages, f.segments, f.cost_micros) IS DISTINCT FROM (o.messages, o.segments, o.cost_micros)
),
gone AS (
  DELETE FROM usage_minute r USING diff x
   WHERE x.fm IS NULL AND r.customer_id = x.customer_id AND r.bucket = x.bucket AND r.country = x.country
     AND r.status = x.status AND r.priority = x.priority AND r.carrier = x.carrier
),
put AS (
  INSERT INTO usage_minute (${KEY_COLUMNS}, messages, segments, cost_micros)
  SELECT ${KEY_COLUMNS}, fm, fs, fc FROM diff WHERE fm IS NOT NULL ORDER BY ${KEY_COLUMNS}
  ON CONFLICT (${KEY_COLUMNS}) DO UPDATE
    SET messages = EXCLUDED.messages, segments = EXCLUDED.segments, cost_micros = EXCLUDED.cost_micros
)
SELECT customer_id::text AS c, bucket, country, status, priority, carrier, dm::text, ds::text, dc::text FROM diff`

interface MinuteDelta {
  c: string
  bucket: Date
  country: string
  status: string
  priority: string
  carrier: string
  dm: string
  ds: string
  dc: string
}

const DELTAS = `unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[])
  AS d(c, b, country, status, priority, carrier, dm, ds, dc)`

/** Adds the deltas to (customer, hour|day) rows: one upsert per table, rows whose deltas cancel out untouched. */
const addTo = (table: string, g: 'hour' | 'day') => `
  INSERT INTO ${table} (${KEY_COLUMNS}, messages, segments, cost_micros)
  SELECT c, date_trunc('${g}', b, 'UTC'), country, status, priority, carrier, sum(dm), sum(ds), sum(dc)
    FROM d GROUP BY 1, 2, 3, 4, 5, 6
  HAVING (sum(dm), sum(ds), sum(dc)) <> (0, 0, 0)
   ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET messages = ${table}.messages + EXCLUDED.messages,
    segments = ${table}.segments + EXCLUDED.segments, cost_micros = ${table}.cost_micros + EXCLUDED.cost_micros`

/** Adds the deltas to a table of totals (TOTALS) of (customer, minute|hour). */
const addToTotals = ({ table, g, keys }: (typeof TOTALS)[number]) => `
  INSERT INTO ${table} (customer_id, bucket, ${keys}, messages, segments, cost_micros)
  SELECT c, date_trunc('${g}', b, 'UTC'), ${keys}, sum(dm), sum(ds), sum(dc)
    FROM d GROUP BY c, 2, ${keys}
  HAVING (sum(dm), sum(ds), sum(dc)) <> (0, 0, 0)
   ORDER BY c, 2, ${keys}
  ON CONFLICT (customer_id, bucket, ${keys}) DO UPDATE SET messages = ${table}.messages + EXCLUDED.messages,
    segments = ${table}.segments + EXCLUDED.segments, cost_micros = ${table}.cost_micros + EXCLUDED.cost_micros`

const APPLY_DELTAS = `
WITH d AS (SELECT * FROM ${DELTAS}),
${TOTALS.map((t, i) => `t${i} AS (${addToTotals(t)}),`).join('\n')}
h AS (${addTo('usage_hour', 'hour')}),
dy AS (${addTo('usage_day', 'day')}),
dcu AS (
  INSERT INTO usage_day_customer (bucket, customer_id, messages, segments, cost_micros)
  SELECT date_trunc('day', b, 'UTC'), c, sum(dm), sum(ds), sum(dc) FROM d GROUP BY 1, 2
  HAVING (sum(dm), sum(ds), sum(dc)) <> (0, 0, 0) ORDER BY 1, 2
  ON CONFLICT (bucket, customer_id) DO UPDATE SET messages = usage_day_customer.messages + EXCLUDED.messages,
    segments = usage_day_customer.segments + EXCLUDED.segments,
    cost_micros = usage_day_customer.cost_micros + EXCLUDED.cost_micros
),
dca AS (
  INSERT INTO usage_day_carrier (bucket, carrier, status, messages)
  SELECT date_trunc('day', b, 'UTC'), carrier, status, sum(dm) FROM d WHERE carrier <> ''
   GROUP BY 1, 2, 3 HAVING sum(dm) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (bucket, carrier, status) DO UPDATE SET messages = usage_day_carrier.messages + EXCLUDED.messages
)
SELECT 1`

/** Rows a negative delta may have brought to zero messages (and so zero segments and cost): deleted, as a recompute would leave no row. */
const DELETE_EMPTIED = `
WITH d AS (SELECT * FROM ${DELTAS} WHERE dm < 0),
h AS (
  DELETE FROM usage_hour r USING (SELECT DISTINCT c, date_trunc('hour', b, 'UTC') AS b, country, status, priority, carrier FROM d) k
   WHERE r.customer_id = k.c AND r.bucket = k.b AND r.country = k.country AND r.status = k.status
     AND r.priority = k.priority AND r.carrier = k.carrier AND r.messages = 0
),
dy AS (
  DELETE FROM usage_day r USING (SELECT DISTINCT c, date_trunc('day', b, 'UTC') AS b, country, status, priority, carrier FROM d) k
   WHERE r.customer_id = k.c AND r.bucket = k.b AND r.country = k.country AND r.status = k.status
     AND r.priority = k.priority AND r.carrier = k.carrier AND r.messages = 0
),
${TOTALS.map(
  ({ table, g, keys }, i) => `t${i} AS (
  DELETE FROM ${table} r USING (SELECT DISTINCT c, date_trunc('${g}', b, 'UTC') AS b, ${keys} FROM d) k
   WHERE r.customer_id = k.c AND r.bucket = k.b AND ${keys
     .split(', ')
     .map((x) => `r.${x} = k.${x}`)
     .join(' AND ')} AND r.messages = 0
)`,
).join(',\n')}
DELETE FROM usage_day_customer r USING (SELECT DISTINCT c, date_trunc('day', b, 'UTC') AS b FROM d) k
 WHERE r.customer_id = k.c AND r.bucket = k.b AND r.messages = 0`

async function recomputeLocked(tx: Queryable, chunk: RollupKey[], full: boolean): Promise<void> {
  // Archived days have no messages left: their rollups are the only record and are never recomputed.
  const archived = await archivedDays(tx)
  const keys = chunk.filter((k) => !archived.has(bucketOf(k.minute, 'day')))
  if (keys.length === 0) return
  const customers = keys.map((k) => k.customerId)
  const minutes = keys.map((k) => new Date(k.minute).toISOString())
  const bounds = [
    customers,
    minutes,
    keys.map((k) => uuidFloor(k.minute)),
    keys.map((k) => uuidFloor(k.minute + BUCKET_MS.minute)),
    REFUNDED,
  ]
  if (!full) {
    // The minute rows are a pure function of the log; the coarser rows are exactly the sums of the
    // minute rows (kept so under this lock, in this transaction), so they take the minute rows'
    // differences instead of re-reading a whole hour and day per key.
    const { rows } = await tx.query<MinuteDelta>(MINUTE_DIFF, bounds)
    if (rows.length === 0) return
    const deltas = [
      rows.map((r) => r.c),
      rows.map((r) => r.bucket),
      rows.map((r) => r.country),
      rows.map((r) => r.status),
      rows.map((r) => r.priority),
      rows.map((r) => r.carrier),
      rows.map((r) => r.dm),
      rows.map((r) => r.ds),
      rows.map((r) => r.dc),
    ]
    await tx.query(APPLY_DELTAS, deltas)
    if (rows.some((r) => r.dm.startsWith('-'))) await tx.query(DELETE_EMPTIED, deltas)
    return
  }
  await tx.query(
    `DELETE FROM usage_minute r USING unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
      WHERE r.customer_id = k.c AND r.bucket = k.b`,
    [customers, minutes],
  )
  await tx.query(
    `INSERT INTO usage_minute (${KEY_COLUMNS}, messages, segments, cost_micros) ${FRESH_MINUTE_ROWS}`,
    bounds,
  )
  await rollUp(tx, 'usage_minute', 'usage_hour', 'hour', keys)
  for (const t of TOTALS) await recomputeTotals(tx, t, keys)
  const days = uniqueKeys(keys.map((k) => ({ customerId: k.customerId, minute: bucketOf(k.minute, 'day') })))
  await carrierDelta(tx, days, -1)
  await rollUp(tx, 'usage_hour', 'usage_day', 'day', keys)
  await carrierDelta(tx, days, 1)
  await dayCustomerTotals(tx, days)
}

const dayArgs = (days: RollupKey[]) => [
  days.map((k) => k.customerId),
  days.map((k) => new Date(k.minute).toISOString()),
]

/** Adds (sign 1) or takes away (sign −1) the usage_day rows of these (customer, day) keys to the per-carrier day totals. */
async function carrierDelta(tx: Queryable, days: RollupKey[], sign: 1 | -1): Promise<void> {
  await tx.query(
    `INSERT INTO usage_day_carrier (bucket, carrier, status, messages)
     SELECT r.bucket, r.carrier, r.status, $3::bigint * sum(r.messages)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
       JOIN usage_day r ON r.customer_id = k.c AND r.bucket = k.b
      WHERE r.carrier <> ''
      GROUP BY r.bucket, r.carrier, r.status
      ORDER BY r.bucket, r.carrier, r.status
     ON CONFLICT (bucket, carrier, status) DO UPDATE SET messages = usage_day_carrier.messages + EXCLUDED.messages`,
    [...dayArgs(days), sign],
  )
}

/** Recomputes the per-customer day totals of these (customer, day) keys from usage_day. */
async function dayCustomerTotals(tx: Queryable, days: RollupKey[]): Promise<void> {
  await tx.query(
    `DELETE FROM usage_day_customer r USING unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
      WHERE r.customer_id = k.c AND r.bucket = k.b`,
    dayArgs(days),
  )
  await tx.query(
    `INSERT INTO usage_day_customer (bucket, customer_id, messages, segments, cost_micros)
     SELECT k.b, k.c, sum(r.messages), sum(r.segments), sum(r.cost_micros)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
       JOIN usage_day r ON r.customer_id = k.c AND r.bucket = k.b
      GROUP BY k.b, k.c`,
    dayArgs(days),
  )
}

/** Replaces the coarser rows of the keys' (customer, hour|day) with the sum of the finer rows inside them. */
async function rollUp(
  tx: Queryable,
  from: string,
  to: string,
  g: 'hour' | 'day',
  keys: RollupKey[],
): Promise<void> {
  const up = uniqueKeys(keys.map((k) => ({ customerId: k.customerId, minute: bucketOf(k.minute, g) })))
  const customers = up.map((k) => k.customerId)
  const buckets = up.map((k) => new Date(k.minute).toISOString())
  await tx.query(
    `DELETE FROM ${to} r USING unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
      WHERE r.customer_id = k.c AND r.bucket = k.b`,
    [customers, buckets],
  )
  await tx.query(
    `INSERT INTO ${to} (customer_id, bucket, ${DIMENSIONS}, messages, segments, cost_micros)
     SELECT k.c, k.b, ${DIMENSIONS}, sum(messages), sum(segments), sum(cost_micros)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
       JOIN ${from} r ON r.customer_id = k.c AND r.bucket >= k.b AND r.bucket < k.b + $3::interval
      GROUP BY k.c, k.b, ${DIMENSIONS}`,
    [customers, buckets, `${BUCKET_MS[g] / 1000} seconds`],
  )
}

/** Recomputes a table of totals (TOTALS) for the keys' (customer, minute|hour) from the dimension rows. */
async function recomputeTotals(
  tx: Queryable,
  { table, from, g, keys: cols }: (typeof TOTALS)[number],
  keys: RollupKey[],
): Promise<void> {
  const up = uniqueKeys(keys.map((k) => ({ customerId: k.customerId, minute: bucketOf(k.minute, g) })))
  const args = [up.map((k) => k.customerId), up.map((k) => new Date(k.minute).toISOString())]
  await tx.query(
    `DELETE FROM ${table} r USING unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
      WHERE r.customer_id = k.c AND r.bucket = k.b`,
    args,
  )
  await tx.query(
    `INSERT INTO ${table} (customer_id, bucket, ${cols}, messages, segments, cost_micros)
     SELECT k.c, k.b, ${cols}, sum(r.messages), sum(r.segments), sum(r.cost_micros)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS k(c, b)
       JOIN ${from} r ON r.customer_id = k.c AND r.bucket = k.b
      GROUP BY k.c, k.b, ${cols}`,
    args,
  )
}

/** Days (epoch ms) whose messages were archived and dropped (retention). */
export async function archivedDays(q: Queryable): Promise<Set<number>> {
  const { rows } = await q.query<{ day: string }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM archived_days WHERE 'messages' = ANY(tables)`,
  )
  return new Set(rows.map((r) => Date.parse(`${r.day}T00:00:00Z`)))
}

/** The (customer, minute) buckets that hold messages created in [fromMs, toMs). */
export async function keysWithMessages(q: Queryable, fromMs: number, toMs: number): Promise<RollupKey[]> {
  const { rows } = await q.query<{ customer_id: string; minute: string }>(
    `SELECT DISTINCT customer_id::text,
            (floor(extract(epoch FROM created_at) / 60) * 60000)::bigint::text AS minute
       FROM messages
      WHERE id >= $1::uuid AND id < $2::uuid AND created_at >= $3 AND created_at < $4`,
    [uuidFloor(fromMs), uuidFloor(toMs), new Date(fromMs), new Date(toMs)],
  )
  return rows.map((r) => ({ customerId: r.customer_id, minute: Number(r.minute) }))
}

/**
 * Accepts write no status event: every pass works over the messages created since the last sweep
 * of `name` (less `marginMs`, for accept transactions that commit after later ones), then moves
 * the position. Returns what `work` did.
 */
export async function sweepSince(
  db: Db,
  name: string,
  marginMs: number,
  work: (fromMs: number, toMs: number) => Promise<number>,
): Promise<number> {
  const { rows } = await db.query<{ swept_to: Date; now: Date }>(
    `SELECT swept_to, now() AS now FROM usage_sweep_position WHERE name = $1`,
    [name],
  )
  const row = rows[0]
  if (!row) return 0
  const n = await work(row.swept_to.getTime() - marginMs, row.now.getTime())
  await db.query(`UPDATE usage_sweep_position SET swept_to = greatest(swept_to, $1) WHERE name = $2`, [
    row.now,
    name,
  ])
  return n
}

/** Recomputes the buckets of messages accepted since the last sweep. Returns the keys recomputed. */
export const sweepAccepted = (db: Db, marginMs = 10_000): Promise<number> =>
  sweepSince(db, 'accepted', marginMs, async (from, to) =>
    recomputeBuckets(db, await keysWithMessages(db, from, to)),
  )

/**
 * Recomputes every bucket of [fromMs, toMs) (widened to whole minutes) from the message log, a
 * day at a time: buckets with messages, and buckets that have rows but no messages any more.
 * Archived days are left as they are. Returns the keys recomputed.
 */
export async function rebuildRollups(
  db: Db,
  fromMs: number,
  toMs: number,
  onDay?: (dayMs: number, keys: number) => void,
): Promise<number> {
  let total = 0
  const start = bucketOf(fromMs, 'minute')
  for (let a = start; a < toMs; a = Math.min(bucketOf(a, 'day') + BUCKET_MS.day, toMs)) {
    const b = Math.min(bucketOf(a, 'day') + BUCKET_MS.day, Math.ceil(toMs / 60_000) * 60_000)
    const { rows } = await db.query<{ customer_id: string; minute: string }>(
      `SELECT DISTINCT customer_id::text, (extract(epoch FROM bucket) * 1000)::bigint::text AS minute
         FROM usage_minute WHERE bucket >= $1 AND bucket < $2`,
      [new Date(a), new Date(b)],
    )
    const keys = [
      ...(await keysWithMessages(db, a, b)),
      ...rows.map((r) => ({ customerId: r.customer_id, minute: Number(r.minute) })),
    ]
    const n = await recomputeBuckets(db, keys, { full: true })
    onDay?.(bucketOf(a, 'day'), n)
    total += n
  }
  return total
}
