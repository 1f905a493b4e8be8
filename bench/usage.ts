// `npm run bench -- usage`: GET /v1/usage reads from the PostgreSQL rollups at issue 13's scale
// (30 days × 10,000 customers × 10 M messages, Zipf s = 1.1 volumes), and the cost of one rollup
// pass late in a day, when the hour and day recomputes read the most.
//
// The rollup tables are seeded directly (the reads only touch them): a day at a time, each
// message drawn with a customer (Zipf), a minute, a country, a status, a priority and a carrier,
// GROUP BY into usage_minute in bucket order (as the passes write them), then usage_hour,
// usage_day and the day totals from those. `--keep` reuses a seeded database (applying new
// migrations to it), so a schema or query change is measured on the same rows.
//
// Reads: the PostgreSQL reader's usage() (the route's one query) for customers drawn by Zipf
// (the busy ones ask most), `--concurrency` at a time; p50/p95/max per shape, and for the busiest
// customer the buffers the query touched (EXPLAIN ANALYZE BUFFERS: a count, not a time).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Pool } from 'undici'
import { generateSecret, hashSecret } from '../src/accounts/api-keys.ts'
import type { Db, Queryable } from '../src/db/db.ts'
import { migrate } from '../src/db/migrate.ts'
import { createPostgresDb } from '../src/db/postgres.ts'
import type { RollupKey } from '../src/reporting/buckets.ts'
import { recomputeBuckets, TOTALS } from '../src/reporting/rollups.ts'
import {
  createPgUsageReader,
  type PeriodRow,
  toUsagePeriod,
  type UsageQuery,
  type UsageReader,
} from '../src/reporting/usage.ts'
import { recreateDatabase } from './bench-db.ts'
import { freePort } from './free-port.ts'
import { processCpuSeconds } from './proc-cpu.ts'
import { startServer } from './server-process.ts'
import { DEFAULT_PG_URL } from './stack.ts'
import { makeZipf } from './zipf.ts'

export const usage = `npm run bench -- usage [options]   (ClickHouse: npm run bench -- usage --clickhouse --help)
  --customers N     customers (default 10000), Zipf s = 1.1 volumes
  --messages N      messages over the whole range (default 10000000)
  --days N          days of rollups, ending at the last whole UTC day (default 30)
  --requests N      reads per shape (default 200)
  --concurrency N   reads in flight (default 4)
  --pass-messages N messages of the last minute whose rollup pass is measured (default 20000; 0: none)
  --shapes LIST     only these read shapes (';'-separated names as printed, e.g. 'hour, 30 days, group_by country')
  --http            also read GET /v1/usage through a spawned api (--server-script, default
                    bin/smsgw.js) with each customer's API key, interleaved with the direct reads
  --server-script F the api's entry point for --http (relative to the repository)
  --http-base-script F  with --http, a second api (another build's bin/smsgw.js, same schema)
                    read in turn too: the route's A/B (msHttpBefore)
  --base-dir DIR    a checkout of main: its rollup pass alternates with this one's (A/B of the pass)
  --passes N        passes of each (default 1)
  --keep            reuse the seeded database if it exists (new migrations are applied to it)
  --database NAME   default smsgw_bench_usage
  --pg-url URL      admin URL (default postgres://postgres@127.0.0.1:5432/postgres)`

const DAY = 86_400_000
type Recompute = typeof recomputeBuckets

export async function run(argv: string[]): Promise<number> {
  // The ClickHouse reads are a bench of their own (bench/usage-clickhouse.ts, ADR 0018).
  if (argv.includes('--clickhouse')) return (await import('./usage-clickhouse.ts')).run(argv)
  const { values } = parseArgs({
    args: argv,
    options: {
      customers: { type: 'string', default: '10000' },
      messages: { type: 'string', default: '10000000' },
      days: { type: 'string', default: '30' },
      requests: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '4' },
      'pass-messages': { type: 'string', default: '20000' },
      shapes: { type: 'string' },
      http: { type: 'boolean', default: false },
      'base-dir': { type: 'string' },
      passes: { type: 'string', default: '1' },
      'server-script': { type: 'string', default: 'bin/smsgw.js' },
      'http-base-script': { type: 'string' },
      keep: { type: 'boolean', default: false },
      database: { type: 'string', default: 'smsgw_bench_usage' },
      'pg-url': { type: 'string', default: DEFAULT_PG_URL },
    },
  })
  const customersN = Number(values.customers)
  const messagesN = Number(values.messages)
  const days = Number(values.days)
  const name = values.database as string
  const adminUrl = values['pg-url'] as string
  const end = Math.floor(Date.now() / DAY) * DAY
  const start = end - days * DAY
  const load = () => loadavg().map((x) => Math.round(x * 100) / 100)

  const dbUrl = await openOrSeed(adminUrl, name, values.keep as boolean, (db) =>
    seed(db, customersN, messagesN, start, days),
  )
  const db = createPostgresDb({ url: dbUrl, poolSize: Number(values.concurrency) + 1 })
  let http: Awaited<ReturnType<typeof startApi>> | null = null
  let httpBase: Awaited<ReturnType<typeof startApi>> | null = null
  try {
    await migrate(db)
    await db.query(
      `VACUUM ANALYZE usage_minute, usage_hour, usage_day, ${TOTALS.map((t) => t.table).join(', ')}`,
    )
    const { rows: meta } = await db.query<{ customers: string[]; start: Date; end: Date }>(
      'SELECT customers, range_start AS start, range_end AS end FROM bench_usage_meta',
    )
    const m = meta[0]
    if (!m) throw new Error(`${name}: no bench_usage_meta; run without --keep`)
    const customers = m.customers
    const rangeEnd = m.end.getTime()
    const rangeStart = m.start.getTime()
    const sizes = await db.query<{ t: string; rows: string; mb: string }>(
      `SELECT relname AS t, n_live_tup::text AS rows, (pg_total_relation_size(relid) / 1048576)::text AS mb
         FROM pg_stat_user_tables WHERE relname LIKE 'usage_%' ORDER BY relname`,
    )
    const zipf = makeZipf(customers.length, 1.1)
    if (values.http) {
      const keys = await apiKeys(db, customers)
      http = await startApi(dbUrl, keys, values['server-script'] as string)
      if (values['http-base-script'])
        httpBase = await startApi(dbUrl, keys, values['http-base-script'] as string)
    }
    const shapes: Record<string, (c: string) => UsageQuery> = {}
    const spans = {
      'hour, 30 days': ['hour', rangeStart],
      'minute, 1 day': ['minute', rangeEnd - DAY],
      'day, 30 days': ['day', rangeStart],
    } as const
    // Every group_by API.md allows, at each granularity.
    for (const [span, [granularity, fromMs]] of Object.entries(spans))
      for (const groupBy of [undefined, 'country', 'status', 'priority'] as const)
        shapes[groupBy ? `${span}, group_by ${groupBy}` : span] = (c) => ({
          customerId: c,
          granularity,
          fromMs,
          toMs: rangeEnd,
          ...(groupBy ? { groupBy } : {}),
        })
    const only = values.shapes ? new Set((values.shapes as string).split(';').map((x) => x.trim())) : null
    const reads: Record<string, unknown> = {}
    for (const [shape, q] of Object.entries(shapes)) {
      if (only && !only.has(shape)) continue
      const loadBefore = load()
      // Same-run A/B: every other read is main's reader before the per-group totals (readerBefore),
      // interleaved, so both see the same machine load; with --http every third read is the route.
      const series = {
        after: [] as number[],
        before: [] as number[],
        http: [] as number[],
        httpBefore: [] as number[],
      }
      const kinds: (keyof typeof series)[] = [
        'after',
        'before',
        ...(http ? (['http'] as const) : []),
        ...(httpBase ? (['httpBefore'] as const) : []),
      ]
      let i = 0
      const after = createPgUsageReader(db)
      const before = readerBefore(db)
      await timed(Number(values.requests) * kinds.length, Number(values.concurrency), async () => {
        const c = customers[zipf.sample()] as string
        const kind = kinds[i++ % kinds.length] as keyof typeof series
        const t = performance.now()
        if (kind === 'http') await http?.get(c, q(c))
        else if (kind === 'httpBefore') await httpBase?.get(c, q(c))
        else await (kind === 'before' ? before : after).usage(q(c))
        series[kind].push(performance.now() - t)
      })
      const plain = series.after
      const heap = series.before
      const busiest = await buffers(dbUrl, q(customers[0] as string))
      const busiestHeap = await buffers(dbUrl, q(customers[0] as string), readerBefore)
      reads[shape] = {
        ms: stats(plain),
        msBefore: stats(heap),
        ...(http ? { msHttp: stats(series.http) } : {}),
        ...(httpBase ? { msHttpBefore: stats(series.httpBefore) } : {}),
        busiest,
        busiestBefore: busiestHeap,
        loadAvg: { before: loadBefore, after: load() },
      }
      console.error(
        `${shape}: ${JSON.stringify(stats(plain))} ms, before ${JSON.stringify(stats(heap))}${http ? `, http ${JSON.stringify(stats(series.http))}` : ''}${httpBase ? `, http before ${JSON.stringify(stats(series.httpBefore))}` : ''}; busiest ${JSON.stringify(busiest)} / ${JSON.stringify(busiestHeap)}; load ${loadBefore.join(' ')}`,
      )
    }
    // Same-run A/B: the rebuild's whole recompute of hours and days (the passes' code before the
    // deltas) on one late minute, then a pass's deltas on the minute before, same volume (the
    // message log is append-only: each run takes minutes no earlier run used).
    // Rollup pass cost. Same-run A/B: the rebuild's whole recompute of hours and days (the passes'
    // code before the deltas) on one late minute; then, with --base-dir, main's pass (its
    // recomputeBuckets, loaded from that checkout) and this one alternate `--passes` times, each
    // on a minute of its own with the same volume (the message log is append-only: each pass takes
    // a minute no earlier pass used).
    const nPass = Number(values['pass-messages'])
    const passOf = async (recompute: Recompute, full: boolean) =>
      measurePass(db, adminUrl, name, customers, zipf, await freeMinute(db, rangeEnd), nPass, recompute, full)
    let pass: Record<string, unknown> | null = null
    if (nPass > 0) {
      const base = values['base-dir']
        ? (
            (await import(join(resolve(values['base-dir'] as string), 'src/reporting/rollups.ts'))) as {
              recomputeBuckets: Recompute
            }
          ).recomputeBuckets
        : null
      const deltas: unknown[] = []
      const deltasBase: unknown[] = []
      const wholeHoursAndDays = values['base-dir'] ? null : await passOf(recomputeBuckets, true)
      for (let k = 0; k < Number(values.passes); k++) {
        if (base) deltasBase.push(await passOf(base, false))
        deltas.push(await passOf(recomputeBuckets, false))
      }
      pass = { wholeHoursAndDays, deltas, ...(base ? { deltasBase } : {}) }
    }
    const result = {
      customers: customers.length,
      range: { from: new Date(rangeStart).toISOString(), to: new Date(rangeEnd).toISOString() },
      tables: Object.fromEntries(sizes.rows.map((r) => [r.t, { rows: Number(r.rows), mb: Number(r.mb) }])),
      reads,
      pass,
      loadAvgAtEnd: load(),
    }
    console.log(JSON.stringify(result, null, 2))
    return 0
  } finally {
    await http?.stop()
    await httpBase?.stop()
    await db.close()
  }
}

/** An API key for every bench customer (customers rows inserted with the seeded ids; keys of earlier runs revoked). */
async function apiKeys(db: Db, customers: string[]): Promise<Map<string, string>> {
  await db.query(
    `INSERT INTO customers (id, name, rate_limit_mps)
     SELECT c, 'usage-bench-' || i, 1000 FROM unnest($1::uuid[]) WITH ORDINALITY AS k(c, i)
     ON CONFLICT (id) DO NOTHING`,
    [customers],
  )
  await db.query(`DELETE FROM api_keys WHERE customer_id = ANY($1::uuid[])`, [customers])
  const secrets = customers.map(() => generateSecret())
  await db.query(
    `INSERT INTO api_keys (id, customer_id, prefix, secret_hash)
     SELECT gen_random_uuid(), c, left(s, 10), h FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS k(c, s, h)`,
    [customers, secrets, secrets.map(hashSecret)],
  )
  return new Map(customers.map((c, i) => [c, secrets[i] as string]))
}

/** `smsgw api` (`serverScript`) on the bench database; `get` reads GET /v1/usage as the customer and fails on anything but a 200. */
async function startApi(dbUrl: string, keyOf: Map<string, string>, serverScript: string) {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-usage-bench-'))
  const repoRoot = fileURLToPath(new URL('..', import.meta.url))
  const server = await startServer({
    name: 'smsgw api',
    args: [...(serverScript.endsWith('.ts') ? ['--import', 'tsx'] : []), serverScript, 'api'],
    cwd: repoRoot,
    env: {
      DATABASE_URL: dbUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      SMSGW_ADMIN_TOKEN: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
      SMSGW_DATA_DIR: dataDir,
    },
    url: `http://127.0.0.1:${port}`,
    readyTimeoutMs: 120_000,
  })
  const pool = new Pool(server.url, { connections: 8 })
  return {
    async get(customerId: string, q: UsageQuery) {
      const query = new URLSearchParams({
        granularity: q.granularity,
        from: new Date(q.fromMs).toISOString(),
        to: new Date(q.toMs).toISOString(),
        ...(q.groupBy ? { group_by: q.groupBy } : {}),
      })
      const res = await pool.request({
        method: 'GET',
        path: `/v1/usage?${query}`,
        headers: { authorization: `Bearer ${keyOf.get(customerId)}` },
      })
      const body = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`GET /v1/usage → ${res.statusCode}: ${body.slice(0, 300)}`)
    },
    async stop() {
      await pool.close()
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The PostgreSQL reader's usage() on main before the per-group totals (migration 0024): the A of the A/B. */
function readerBefore(db: Queryable): Pick<UsageReader, 'usage'> {
  const table = { minute: 'usage_minute', hour: 'usage_hour', day: 'usage_day' } as const
  const statusTable = { minute: 'usage_minute_status', hour: 'usage_hour_status', day: 'usage_day' } as const
  return {
    async usage(q) {
      const g = q.groupBy ? `, ${q.groupBy}` : ''
      const { rows } = await db.query<PeriodRow>(
        `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text AS period${q.groupBy ? ', grp' : ''},
                sum(messages)::text AS messages, sum(segments)::text AS segments, sum(cost)::text AS cost,
                json_object_agg(status, messages) AS by_status
           FROM (SELECT bucket${q.groupBy ? `, ${q.groupBy} AS grp` : ''}, status, sum(messages) AS messages,
                        sum(segments) AS segments, sum(cost_micros) AS cost
                   FROM ${q.groupBy ? table[q.granularity] : statusTable[q.granularity]}
                  WHERE customer_id = $1 AND bucket >= $2 AND bucket < $3
                  GROUP BY bucket${g}, status) s
          GROUP BY bucket${q.groupBy ? ', grp' : ''}`,
        [q.customerId, new Date(q.fromMs), new Date(q.toMs)],
      )
      return rows
        .map((r) => ({
          ...toUsagePeriod(r),
          byStatus: Object.fromEntries(Object.entries(r.by_status).map(([k, v]) => [k, Number(v)])),
        }))
        .sort((a, b) => a.periodStart - b.periodStart || (a.group ?? '').localeCompare(b.group ?? ''))
    },
  }
}

async function openOrSeed(
  adminUrl: string,
  name: string,
  keep: boolean,
  seedFn: (db: Db) => Promise<unknown>,
): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  if (keep && exists) return url.toString()
  const dbUrl = await recreateDatabase(adminUrl, name)
  const db = createPostgresDb({ url: dbUrl, poolSize: 2 })
  try {
    await migrate(db)
    await seedFn(db)
  } finally {
    await db.close()
  }
  return dbUrl
}

/** Rollup rows for `messagesN` messages over `days` days from `start`; the customer ids (busiest first) go to bench_usage_meta. */
async function seed(
  db: Db,
  customersN: number,
  messagesN: number,
  start: number,
  days: number,
): Promise<void> {
  const started = performance.now()
  const { rows } = await db.query<{ id: string }>(
    'SELECT gen_random_uuid()::text AS id FROM generate_series(1, $1)',
    [customersN],
  )
  const customers = rows.map((r) => r.id)
  // Zipf s = 1.1 volumes, busiest first: per day, customer i sends round(share_i × messages / days).
  let h = 0
  for (let k = 1; k <= customersN; k++) h += 1 / k ** 1.1
  const perDay = customers.map((_, i) => (messagesN / days) * (1 / (i + 1) ** 1.1 / h))
  await db.query(
    `CREATE TABLE bench_usage_meta AS SELECT $1::text[] AS customers, $2::timestamptz AS range_start, $3::timestamptz AS range_end`,
    [customers, new Date(start), new Date(start + days * DAY)],
  )
  for (let d = 0; d < days; d++) {
    const day = start + d * DAY
    // Fractional volumes: the remainder is a Bernoulli draw, so small customers send on some days.
    await db.query(
      `INSERT INTO usage_minute (customer_id, bucket, country, status, priority, carrier, messages, segments, cost_micros)
       SELECT c, bucket, country, status, priority, carrier, count(*), sum(segs), sum(segs * 7900)
         FROM (
           SELECT k.c,
                  $2::timestamptz + floor(random() * 1440) * interval '1 minute' AS bucket,
                  x.country,
                  CASE WHEN x.r < 0.90 THEN 'delivered' WHEN x.r < 0.95 THEN 'undelivered'
                       WHEN x.r < 0.98 THEN 'failed' ELSE 'expired' END AS status,
                  CASE WHEN random() < 0.05 THEN 'high' ELSE 'normal' END AS priority,
                  CASE WHEN x.r < 0.98 THEN CASE WHEN x.country IN ('US', 'BR') THEN 'sim-smpp' ELSE 'sim-http' END ELSE '' END AS carrier,
                  CASE WHEN random() < 0.8 THEN 1 ELSE 2 END AS segs
             FROM unnest($1::uuid[], $3::float8[]) AS k(c, v),
                  generate_series(1, floor(k.v + random())::int) AS n,
                  LATERAL (SELECT (ARRAY['US','US','US','GB','DE','FR','BR','IN'])[1 + floor(random() * 8)::int + (n * 0)] AS country,
                                  random() + (n * 0) AS r) AS x
         ) g
        GROUP BY c, bucket, country, status, priority, carrier
        ORDER BY bucket, c`,
      [customers, new Date(day), perDay],
    )
    for (const [to, from, g] of [
      ['usage_hour', 'usage_minute', 'hour'],
      ['usage_day', 'usage_hour', 'day'],
    ] as const)
      await db.query(
        `INSERT INTO ${to} (customer_id, bucket, country, status, priority, carrier, messages, segments, cost_micros)
         SELECT customer_id, date_trunc('${g}', bucket), country, status, priority, carrier, sum(messages), sum(segments), sum(cost_micros)
           FROM ${from} WHERE bucket >= $1 AND bucket < $2
          GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 2, 1`,
        [new Date(day), new Date(day + DAY)],
      )
    console.error(`seed: day ${d + 1}/${days} (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }
  await db.query(
    `INSERT INTO usage_day_customer (bucket, customer_id, messages, segments, cost_micros)
     SELECT bucket, customer_id, sum(messages), sum(segments), sum(cost_micros) FROM usage_day GROUP BY 1, 2`,
  )
  await db.query(
    `INSERT INTO usage_day_carrier (bucket, carrier, status, messages)
     SELECT bucket, carrier, status, sum(messages) FROM usage_day WHERE carrier <> '' GROUP BY 1, 2, 3`,
  )
  // The per-status and per-group totals (migrations 0022, 0024): the migrations ran on empty tables.
  // In bucket order, as passes write them: a customer's rows in a random heap order make its
  // index-only scans switch visibility-map pages at every other row (~2,300 buffer hits for
  // customer 1's minutes of a day instead of ~50).
  for (const { table, from, keys } of TOTALS)
    await db.query(
      `INSERT INTO ${table} (customer_id, bucket, ${keys}, messages, segments, cost_micros)
       SELECT customer_id, bucket, ${keys}, sum(messages), sum(segments), sum(cost_micros)
         FROM ${from} GROUP BY customer_id, bucket, ${keys} ORDER BY bucket, customer_id`,
    )
}

async function timed(n: number, concurrency: number, fn: () => Promise<void>) {
  const ms: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        const t = performance.now()
        await fn()
        ms.push(performance.now() - t)
      }
    }),
  )
  return stats(ms)
}

function stats(xs: number[]) {
  const ms = [...xs].sort((a, b) => a - b)
  const at = (p: number) =>
    Math.round((ms[Math.min(ms.length - 1, Math.floor(ms.length * p))] ?? 0) * 10) / 10
  return { n: ms.length, p50: at(0.5), p95: at(0.95), max: at(1) }
}

/** Buffers and rows of the reader's query for one customer (EXPLAIN ANALYZE BUFFERS of the same SQL). */
async function buffers(
  dbUrl: string,
  q: UsageQuery,
  makeReader: (db: Queryable) => Pick<UsageReader, 'usage'> = createPgUsageReader,
) {
  const c = new pg.Client({ connectionString: dbUrl })
  await c.connect()
  let plan: Record<string, unknown> | undefined
  try {
    // The reader's query, captured as it runs: explained on the same connection.
    const capture: { sql?: string; params?: unknown[] } = {}
    const fake = {
      query: async (sql: string, params?: unknown[]) => {
        capture.sql = sql
        capture.params = params
        return { rows: [], rowCount: 0 }
      },
    }
    await makeReader(fake as unknown as Db).usage(q)
    const { rows } = await c.query<{
      'QUERY PLAN': [{ Plan: Record<string, unknown>; 'Execution Time': number }]
    }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${capture.sql}`, capture.params)
    const top = rows[0]?.['QUERY PLAN'][0]
    plan = top?.Plan
    const scan = findScan(plan)
    return {
      rowsOut: plan?.['Actual Rows'],
      sharedHit: plan?.['Shared Hit Blocks'],
      sharedRead: plan?.['Shared Read Blocks'],
      scan: scan?.['Node Type'],
      scanRows: scan?.['Actual Rows'],
      heapFetches: scan?.['Heap Fetches'] ?? null,
      executionMs: Math.round((top?.['Execution Time'] ?? 0) * 10) / 10,
    }
  } finally {
    await c.end()
  }
}

function findScan(p: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined
  if (String(p['Node Type']).includes('Scan')) return p
  for (const child of (p.Plans as Record<string, unknown>[] | undefined) ?? []) {
    const s = findScan(child)
    if (s) return s
  }
  return undefined
}

/**
 * One rollup pass late in the last day (`minute`, 23:58 or 23:59): `n` messages of that minute
 * (Zipf customers), all their buckets recomputed (`full`: hours and days re-derived whole). Reports the pass's wall time, this process's CPU (the Node side: the
 * bench does nothing else meanwhile) and the rollup statements' rows and time from pg_stat_statements.
 */
async function measurePass(
  db: Db,
  adminUrl: string,
  name: string,
  customers: string[],
  zipf: ReturnType<typeof makeZipf>,
  minute: number,
  n: number,
  recompute: Recompute,
  full: boolean,
) {
  const picked = Array.from({ length: n }, () => customers[zipf.sample()] as string)
  // Messages need their partition and customers rows (the rollup joins neither customers nor FKs).
  const dayStart = new Date(Math.floor(minute / DAY) * DAY)
  const part = `messages_p${dayStart.toISOString().slice(0, 10).replaceAll('-', '')}`
  await db.exec(
    `CREATE TABLE IF NOT EXISTS ${part} PARTITION OF messages FOR VALUES FROM ('${dayStart.toISOString()}') TO ('${new Date(dayStart.getTime() + DAY).toISOString()}')`,
  )
  await db.query(
    `INSERT INTO messages (id, created_at, customer_id, to_number, from_sender, body, country, encoding,
                           segments, price_micros, currency, priority, expires_at, status, status_updated_at)
     SELECT (lpad(to_hex(($2::bigint + i)), 12, '0') || substr(replace(gen_random_uuid()::text, '-', ''), 13))::uuid,
            to_timestamp(($2::bigint + i) / 1000.0), c, '+14155550123', 'ACME', 'hi', 'US', 'GSM-7',
            1, 7900, 'USD', 'normal', now() + interval '1 day', 'delivered', now()
       FROM unnest($1::uuid[]) WITH ORDINALITY AS k(c, i)`,
    [picked, minute],
  )
  const keys: RollupKey[] = [...new Set(picked)].map((c) => ({ customerId: c, minute }))
  const before = await statements(adminUrl, name)
  const backendsBefore = await backendCpu(db, name)
  const cpu = process.cpuUsage()
  const t = performance.now()
  const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100)
  await recompute(db, keys, { full })
  const wallMs = performance.now() - t
  const used = process.cpuUsage(cpu)
  const backendsAfter = await backendCpu(db, name)
  const pgCpuMs = [...backendsAfter].reduce(
    (sum, [pid, s]) => sum + (s - (backendsBefore.get(pid) ?? 0)) * 1000,
    0,
  )
  const after = await statements(adminUrl, name)
  const delta = [...after]
    .map(([q, a]) => {
      const b = before.get(q) ?? { calls: 0, rows: 0, ms: 0 }
      return {
        query: q.slice(0, 90),
        calls: a.calls - b.calls,
        rows: a.rows - b.rows,
        ms: Math.round(a.ms - b.ms),
      }
    })
    .filter((s) => s.calls > 0)
    .sort((a, b) => b.ms - a.ms)
  return {
    messages: n,
    keys: keys.length,
    wallMs: Math.round(wallMs),
    nodeCpuUsPerMessage: Math.round((used.user + used.system) / n),
    // CPU of the bench database's backends over the pass (/proc, 10 ms ticks): PostgreSQL's side.
    pgBackendCpuMs: Math.round(pgCpuMs),
    pgBackendCpuUsPerMessage: Math.round((pgCpuMs * 1000) / n),
    pgMsTotal: delta.reduce((s, x) => s + x.ms, 0),
    pgUsPerMessage: Math.round((delta.reduce((s, x) => s + x.ms, 0) * 1000) / n),
    statements: delta,
    loadAvg: loadBefore,
  }
}

/** The latest minute of the last day before `rangeEnd` that holds no messages yet. */
async function freeMinute(db: Db, rangeEnd: number): Promise<number> {
  for (let m = rangeEnd - 60_000; m > rangeEnd - DAY; m -= 60_000) {
    const { rowCount } = await db.query(
      `SELECT 1 FROM messages WHERE created_at >= $1 AND created_at < $2 LIMIT 1`,
      [new Date(m), new Date(m + 60_000)],
    )
    if (rowCount === 0) return m
  }
  throw new Error('no free minute left in the last day: run without --keep')
}

/** CPU seconds so far of each backend connected to database `name` (this machine's PostgreSQL). */
async function backendCpu(db: Db, name: string): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
    name,
  ])
  return new Map(rows.map((r) => [r.pid, processCpuSeconds(r.pid) ?? 0]))
}

/** Rollup statements' calls, rows and time so far (empty when pg_stat_statements is not loaded). */
async function statements(adminUrl: string, name: string) {
  const c = new pg.Client({ connectionString: adminUrl })
  await c.connect()
  try {
    const loaded = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'`)
    if (loaded.rowCount === 0) return new Map<string, { calls: number; rows: number; ms: number }>()
    const { rows } = await c.query<{ query: string; calls: string; rows: string; ms: string }>(
      `SELECT query, calls::text, rows::text, total_exec_time::text AS ms FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND query ~ 'usage_|archived_days'`,
      [name],
    )
    return new Map(
      rows.map((r) => [
        r.query.replace(/\s+/g, ' '),
        { calls: Number(r.calls), rows: Number(r.rows), ms: Number(r.ms) },
      ]),
    )
  } finally {
    await c.end()
  }
}
