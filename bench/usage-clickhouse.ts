// `npm run bench -- usage --clickhouse`: read latency of GET /v1/usage and the admin reports from
// ClickHouse (ADR 0018) at the issue's size: 30 days × 10,000 customers × 10 M messages. The
// messages are generated inside ClickHouse (INSERT … SELECT FROM numbers(), Zipf-like customers,
// a fifth of them also present in an older version, as redelivered history leaves them), the
// totals reconciled a day at a time as `smsgw clickhouse backfill` does, then each reader call is
// timed at the client (HTTP round trip and JSON parse included). In the same run, for an A/B
// ratio, the same reports as they were read before the totals (FINAL over every message).
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { createPostgresDb } from '../src/db/postgres.ts'
import {
  type ClickHouse,
  createClickHouse,
  createClickHouseUsageReader,
  ensureClickHouseSchema,
  reconcileTotals,
} from '../src/reporting/clickhouse.ts'
import { onCleanup } from './cleanup.ts'
import { parseOrUsage } from './cli-args.ts'
import { freePort } from './free-port.ts'
import { UsageError } from './usage-error.ts'

export const usage = `usage: npm run bench -- usage --clickhouse [options]

Read latency of GET /v1/usage and the admin reports from ClickHouse's totals (p50/p95 per query).
  --clickhouse          required (the PostgreSQL rollups are not measured by this bench)
  --clickhouse-url URL  an existing server's HTTP interface; a database smsgw_bench_usage is
                        recreated there (default: start /usr/sbin/clickhouse-server on free ports)
  --messages N          messages generated (default 10000000)
  --customers N         customers (default 10000)
  --days N              days of traffic, ending at today's start (default 30)
  --runs N              timed calls per query, after 3 warm-up calls (default 40)
  --pg-url URL          PostgreSQL for the reconcile lock only (default
                        postgres://postgres@127.0.0.1:5432/postgres)`

const DAY = 86_400_000
const DATABASE = 'smsgw_bench_usage'
const CH_BIN = process.env.CLICKHOUSE_SERVER_BIN ?? '/usr/sbin/clickhouse-server'

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      clickhouse: { type: 'boolean' },
      'clickhouse-url': { type: 'string' },
      messages: { type: 'string', default: '10000000' },
      customers: { type: 'string', default: '10000' },
      days: { type: 'string', default: '30' },
      runs: { type: 'string', default: '40' },
      'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
}

/** A clickhouse-server of the bench's own, removed when the run ends. */
async function startServer(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-bench-ch-'))
  const [http, tcp] = [await freePort(), await freePort()]
  mkdirSync(join(dir, 'data'))
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?><yandex><logger><level>warning</level><console>1</console></logger>
<http_port>${http}</http_port><tcp_port>${tcp}</tcp_port><listen_host>127.0.0.1</listen_host>
<path>${dir}/data/</path><tmp_path>${dir}/tmp/</tmp_path><users_config>${dir}/users.xml</users_config>
<default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>268435456</mark_cache_size><uncompressed_cache_size>268435456</uncompressed_cache_size></yandex>`,
  )
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?><yandex><profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>`,
  )
  const child = spawn(CH_BIN, [`--config-file=${join(dir, 'config.xml')}`], {
    cwd: dir,
    stdio: 'ignore',
    detached: true,
  })
  onCleanup(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${http}/`
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`clickhouse-server exited ${child.exitCode}`)
    if (
      await fetch(`${url}ping`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return url
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('clickhouse-server did not answer /ping within 60 s')
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

const customerSql = (k: string) =>
  `concat('00000000-0000-4000-8000-', lower(substring(hex(toUInt64(${k}) + 1152921504606846976), 5, 12)))`

/** Generates the messages in ClickHouse: `extra` of them again with an older version (status sent). */
async function generate(
  ch: ClickHouse,
  o: { messages: number; customers: number; days: number; endMs: number },
) {
  const start = Math.floor((o.endMs - o.days * DAY) / 1000)
  const span = o.days * 86_400
  // Per message n: a Zipf-like customer rank (u³: the top customer gets ~5 %), a time, dimensions.
  const select = (versionSql: string, statusSql: string, where: string) => `
    SELECT toDate(t) AS day, t AS created_at, ${customerSql('c')} AS customer_id, toString(number) AS message_id,
           arrayElement(['US','GB','DE','FR','IN','BR','NG','ID','MX','PH'], 1 + intHash32(number + 1) % 10) AS country,
           ${statusSql} AS status,
           arrayElement(['otp','normal','bulk'], 1 + intHash32(number + 2) % 3) AS priority,
           if(status IN ('queued'), '', arrayElement(['alpha','beta','gamma','delta'], 1 + intHash32(number + 3) % 4)) AS carrier,
           toUInt32(1 + intHash32(number + 4) % 3) AS segments,
           toInt64(segments * 7900 * if(status IN ('failed','rejected','canceled'), 0, 1)) AS cost_micros,
           ${versionSql} AS version
      FROM (SELECT number, toUInt64(floor(pow(intHash32(number + 5) / 4294967295, 3) * ${o.customers})) AS c,
                   toDateTime(${start} + intHash32(number + 6) % ${span}, 'UTC') AS t
              FROM numbers(${o.messages})) ${where}`
  const status = `arrayElement(['delivered','delivered','delivered','delivered','delivered','delivered','delivered',
      'delivered','delivered','delivered','delivered','delivered','delivered','delivered','delivered','delivered',
      'undelivered','failed','rejected','sent'], 1 + intHash32(number + 7) % 20)`
  const batch = 2_000_000
  for (let from = 0; from < o.messages; from += batch) {
    const where = `WHERE number >= ${from} AND number < ${Math.min(from + batch, o.messages)}`
    await ch.exec(
      `INSERT INTO sms_messages SELECT * FROM (${select('toUInt64(toUInt32(t) + 30) * 1000000', status, where)})`,
    )
    // An older version of every fifth message: what FINAL (and the totals) must not count.
    await ch.exec(
      `INSERT INTO sms_messages SELECT * FROM (${select('toUInt64(toUInt32(t) + 1) * 1000000', "'sent'", `${where} AND number % 5 = 0`)})`,
    )
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

async function time(runs: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 3; i++) await fn(i)
  const ms: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    await fn(i)
    ms.push(performance.now() - t)
  }
  ms.sort((a, b) => a - b)
  return { p50: pct(ms, 50), p95: pct(ms, 95), max: ms.at(-1) as number, runs, load: load() }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() => parse(argv))
  if (values.help) {
    console.log(usage)
    return 0
  }
  if (!values.clickhouse) throw new UsageError('only --clickhouse is measured by this bench')
  const o = {
    messages: Number(values.messages),
    customers: Number(values.customers),
    days: Number(values.days),
    runs: Number(values.runs),
  }
  if (Object.values(o).some((n) => !Number.isInteger(n) || n < 1))
    throw new UsageError('numbers must be positive')
  const base = values['clickhouse-url'] ?? (await startServer())
  const url = new URL(base)
  url.searchParams.set('database', DATABASE)
  const ch = createClickHouse(url.toString())
  await ch.bootstrap(`DROP DATABASE IF EXISTS ${DATABASE}`)
  await ensureClickHouseSchema(ch, url.toString())
  const db = createPostgresDb({ url: values['pg-url'], poolSize: 1, applicationName: 'smsgw-bench-usage' })
  onCleanup(() => db.close())
  const [version] = await ch.rows<{ v: string }>('SELECT version() AS v')
  console.log(`clickhouse ${version?.v}; load average ${load()}`)

  const endMs = Math.floor(Date.now() / DAY) * DAY
  const fromMs = endMs - o.days * DAY
  let t = performance.now()
  await generate(ch, { ...o, endMs })
  const [rows] = await ch.rows<{ raw: string; messages: string }>(
    'SELECT count() AS raw, uniqExact(message_id) AS messages FROM sms_messages',
  )
  const generateS = (performance.now() - t) / 1000
  console.log(
    `generated ${rows?.messages} messages (${rows?.raw} rows) in ${generateS.toFixed(1)} s; load ${load()}`,
  )
  t = performance.now()
  const reconcileDayMs: number[] = []
  for (let d = fromMs; d < endMs; d += DAY) {
    const s = performance.now()
    await reconcileTotals(db, ch, { fromMs: d, toMs: d + DAY })
    reconcileDayMs.push(performance.now() - s)
  }
  const reconcileS = (performance.now() - t) / 1000
  const sizes = await ch.rows<{ table: string; rows: string }>(
    `SELECT table, toString(sum(rows)) AS rows FROM system.parts WHERE database = '${DATABASE}' AND active
      GROUP BY table ORDER BY table`,
  )
  console.log(`totals reconciled in ${reconcileS.toFixed(1)} s (${o.days} days); load ${load()}`)
  for (const s of sizes) console.log(`  ${s.table.padEnd(24)} ${s.rows} rows`)

  // A reconcile pass as the sink makes it: 5,000 (customer, minute) keys of the last day.
  const keySample = await ch.rows<{ customer_id: string; m: string }>(
    `SELECT DISTINCT customer_id, toUInt32(toStartOfMinute(created_at)) AS m FROM sms_messages
      WHERE day = toDate(toDateTime(${endMs / 1000 - 1}, 'UTC')) LIMIT 5000`,
  )
  const keys = keySample.map((k) => ({ customerId: k.customer_id, minute: Number(k.m) * 1000 }))
  const pass = await time(5, () => reconcileTotals(db, ch, { keys }))

  const reader = createClickHouseUsageReader(ch)
  const ranked = await ch.rows<{ customer_id: string }>(
    `SELECT customer_id FROM sms_usage_day_customer GROUP BY customer_id ORDER BY sum(messages) DESC`,
  )
  const whale = ranked[0]?.customer_id as string
  const [whaleN] = await ch.rows<{ n: string }>(
    `SELECT sum(messages) AS n FROM sms_usage_day_customer WHERE customer_id = '${whale}'`,
  )
  const typical = ranked
    .slice(Math.floor(ranked.length / 4), Math.floor(ranked.length / 4) + 50)
    .map((r) => r.customer_id)
  const edge = { from: fromMs + 7 * 3_600_000 + 13 * 60_000, to: endMs - 2 * 3_600_000 - 41 * 60_000 }
  const runs = o.runs
  const results: Record<string, Awaited<ReturnType<typeof time>>> = {}
  const measure = async (name: string, fn: (i: number) => Promise<unknown>) => {
    results[name] = await time(runs, fn)
    const r = results[name]
    console.log(
      `${name.padEnd(54)} p50 ${r.p50.toFixed(1).padStart(7)} ms  p95 ${r.p95.toFixed(1).padStart(7)} ms  max ${r.max.toFixed(1).padStart(7)} ms  load ${r.load}`,
    )
  }
  console.log(
    `\nwhale: ${whale} (${whaleN?.n} messages); typical: 50 customers around rank ${Math.floor(ranked.length / 4)}`,
  )
  const u = (customerId: string, granularity: 'minute' | 'hour' | 'day', span: number, groupBy?: 'country') =>
    reader.usage({
      customerId,
      granularity,
      fromMs: endMs - span,
      toMs: endMs,
      ...(groupBy ? { groupBy } : {}),
    })
  await measure('usage day, 30 d, whale', () => u(whale, 'day', o.days * DAY))
  await measure('usage day, 30 d, whale, group_by=country', () => u(whale, 'day', o.days * DAY, 'country'))
  await measure('usage hour, 30 d, whale', () => u(whale, 'hour', o.days * DAY))
  await measure('usage minute, 7 d, whale', () => u(whale, 'minute', Math.min(7, o.days) * DAY))
  await measure('usage day, 30 d, typical customers', (i) =>
    u(typical[i % typical.length] as string, 'day', o.days * DAY),
  )
  await measure('usage hour, 30 d, typical customers', (i) =>
    u(typical[i % typical.length] as string, 'hour', o.days * DAY),
  )
  await measure('report customers, 30 whole days', () => reader.topCustomers(fromMs, endMs, 'cost', 20))
  await measure('report customers, 30 d with hour+minute edges', () =>
    reader.topCustomers(edge.from, edge.to, 'messages', 20),
  )
  await measure('report carriers, 30 whole days', () => reader.carriers(fromMs, endMs))
  await measure('report carriers, 30 d with hour+minute edges', () => reader.carriers(edge.from, edge.to))
  // A/B in the same run: the reads before the totals (FINAL over every message of the range).
  const range = `day >= toDate(toDateTime(${fromMs / 1000}, 'UTC')) AND day <= toDate(toDateTime(${endMs / 1000}, 'UTC'))
    AND created_at >= toDateTime(${fromMs / 1000}, 'UTC') AND created_at < toDateTime(${endMs / 1000}, 'UTC')`
  const abRuns = Math.min(runs, 10)
  const before = async (name: string, sql: string) => {
    results[name] = await time(abRuns, () => ch.rows(sql))
    const r = results[name]
    console.log(
      `${name.padEnd(54)} p50 ${r.p50.toFixed(1).padStart(7)} ms  p95 ${r.p95.toFixed(1).padStart(7)} ms  max ${r.max.toFixed(1).padStart(7)} ms  load ${r.load}`,
    )
  }
  console.log(`\nbefore the totals (FINAL over sms_messages), ${abRuns} runs each:`)
  await before(
    'FINAL: report customers, 30 whole days',
    `SELECT customer_id, count() AS n, sum(segments) AS s, sum(cost_micros) AS c FROM sms_messages FINAL
      WHERE ${range} GROUP BY customer_id ORDER BY c DESC, customer_id LIMIT 20`,
  )
  await before(
    'FINAL: report carriers, 30 whole days',
    `SELECT carrier, status, count() AS n FROM sms_messages FINAL WHERE ${range} AND carrier != ''
      GROUP BY carrier, status ORDER BY carrier, status`,
  )
  await before(
    'FINAL: usage hour, 30 d, whale',
    `SELECT toStartOfHour(created_at) AS p, status, count(), sum(segments), sum(cost_micros) FROM sms_messages FINAL
      WHERE customer_id = '${whale}' AND ${range} GROUP BY p, status`,
  )
  const out = {
    bench: 'usage',
    store: 'clickhouse',
    clickhouse: version?.v,
    options: o,
    generateS,
    reconcileS,
    reconcileDayMs,
    reconcilePass5000Keys: pass,
    tables: Object.fromEntries(sizes.map((s) => [s.table, Number(s.rows)])),
    whale: { id: whale, messages: Number(whaleN?.n) },
    results,
  }
  console.log(
    `\nreconcile pass of ${keys.length} (customer, minute) keys, nothing to change: p50 ${pass.p50.toFixed(0)} ms, max ${pass.max.toFixed(0)} ms`,
  )
  const file = join(
    import.meta.dirname,
    'results',
    `usage-clickhouse-${new Date().toISOString().replaceAll(':', '-')}.json`,
  )
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`)
  console.log(`\n${file}`)
  return 0
}
