// Usage rollups under the e2e load (issue 13 "Measure"): how fresh they stay and what they cost.
//
// Freshness is read from the database, not from the process: every 2 s a probe compares how many
// `delivered` statuses (and accepted messages) the minute rollups count with the message log, and
// takes the age of the oldest one not counted yet (the rollups count in creation order only
// approximately, so this is "the log's N+1-th delivery is this old", N = what the rollups count).
// The process's own gauge, smsgw_rollup_lag_seconds, is sampled alongside.
//
// Cost is PostgreSQL's: the rollup statements of the run's database in pg_stat_statements (filtered
// by its dbid, never reset: the bench database is new each run, so its statements start at zero),
// per delivered message.

import pg from 'pg'

const PROBE_MARK = '/* bench-rollup-probe */'
const PROBE = `${PROBE_MARK}
WITH d AS (SELECT coalesce(sum(messages), 0)::bigint AS n FROM usage_minute WHERE status = 'delivered'),
     a AS (SELECT coalesce(sum(messages), 0)::bigint AS n FROM usage_minute)
SELECT (SELECT n FROM d)::text AS delivered_rolled,
       (SELECT n FROM a)::text AS accepted_rolled,
       extract(epoch FROM clock_timestamp() - (SELECT created_at FROM message_events WHERE status = 'delivered'
                                 ORDER BY created_at OFFSET (SELECT n FROM d) LIMIT 1))::text AS delivered_lag_s,
       extract(epoch FROM clock_timestamp() - (SELECT created_at FROM messages
                                 ORDER BY created_at OFFSET (SELECT n FROM a) LIMIT 1))::text AS accepted_lag_s`

export interface RollupProbe {
  stop(): Promise<RollupFreshness>
}

export interface RollupFreshness {
  samples: number
  /** Oldest delivered status not yet in the rollups, s: max and p95 over the samples. */
  deliveredLagS: { max: number; p95: number }
  /** Oldest accepted message not yet in the rollups, s. */
  acceptedLagS: { max: number; p95: number }
  /** smsgw_rollup_lag_seconds as scraped from /metrics (max over the samples); null when unreadable. */
  gaugeMaxS: number | null
}

const round1 = (x: number) => Math.round(x * 10) / 10

function p95(xs: number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] as number
}

async function gauge(metricsUrl: string): Promise<number | null> {
  try {
    const text = await (await fetch(metricsUrl)).text()
    const m = /^smsgw_rollup_lag_seconds\s+([0-9.eE+-]+)$/m.exec(text)
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** Samples freshness every `everyMs` until stopped. */
export async function startRollupProbe(
  dbUrl: string,
  metricsUrl: string,
  everyMs = 2000,
): Promise<RollupProbe> {
  const db = new pg.Client({ connectionString: dbUrl })
  await db.connect()
  const delivered: number[] = []
  const accepted: number[] = []
  let gaugeMax: number | null = null
  let stopped = false
  const sample = async () => {
    const { rows } = await db.query<Record<string, string | null>>(PROBE)
    const r = rows[0] ?? {}
    delivered.push(Math.max(0, Number(r.delivered_lag_s ?? 0)))
    accepted.push(Math.max(0, Number(r.accepted_lag_s ?? 0)))
    const g = await gauge(metricsUrl)
    if (g !== null) gaugeMax = Math.max(gaugeMax ?? 0, g)
  }
  const loop = (async () => {
    while (!stopped) {
      await sample().catch(() => {})
      await new Promise((r) => setTimeout(r, everyMs))
    }
  })()
  return {
    async stop() {
      stopped = true
      await loop
      await db.end()
      return {
        samples: delivered.length,
        deliveredLagS: { max: round1(Math.max(0, ...delivered)), p95: round1(p95(delivered)) },
        acceptedLagS: { max: round1(Math.max(0, ...accepted)), p95: round1(p95(accepted)) },
        gaugeMaxS: gaugeMax === null ? null : round1(gaugeMax),
      }
    },
  }
}

/** Waits until the minute rollups count every message and every delivered status; returns the seconds waited (null: not within `timeoutMs`). */
export async function waitRollupsCaughtUp(db: pg.Client, timeoutMs = 120_000): Promise<number | null> {
  const started = Date.now()
  for (;;) {
    const { rows } = await db.query<{ ok: boolean }>(
      `${PROBE_MARK} SELECT (SELECT coalesce(sum(messages), 0) FROM usage_minute WHERE status = 'delivered')
                 = (SELECT count(*) FROM messages WHERE status = 'delivered')
         AND (SELECT coalesce(sum(messages), 0) FROM usage_minute) = (SELECT count(*) FROM messages) AS ok`,
    )
    if (rows[0]?.ok) return round1((Date.now() - started) / 1000)
    if (Date.now() - started > timeoutMs) return null
    await new Promise((r) => setTimeout(r, 500))
  }
}

export interface RollupStatement {
  query: string
  calls: number
  rows: number
  totalMs: number
  usPerMessage: number
  /** Shared buffers hit + read per delivered message: a count, less moved by the machine's load than time. */
  buffersPerMessage: number
}

/** The rollup role's statements (usage_* tables, the accept sweep) of database `database`, from pg_stat_statements. */
export async function rollupStatements(
  adminUrl: string,
  database: string,
  delivered: number,
): Promise<{
  statements: RollupStatement[]
  totalUsPerMessage: number
  calls: number
  buffersPerMessage: number
} | null> {
  const db = new pg.Client({ connectionString: adminUrl })
  await db.connect()
  try {
    const { rows } = await db.query<{ query: string; calls: string; rows: string; ms: string; blks: string }>(
      `SELECT query, calls::text, rows::text, total_exec_time::text AS ms,
              (shared_blks_hit + shared_blks_read)::text AS blks FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)
          AND (query ~ '(usage_(minute|hour|day|sweep_position)|archived_days)' OR query ~ 'SELECT DISTINCT customer_id::text')
          AND query NOT LIKE $2
          -- the migrations' own statements
          AND query !~* '^[[:space:]]*(CREATE|ALTER|COMMENT|--)' AND query !~ 'FROM usage_day (WHERE carrier <> [^ ]+ )?GROUP BY'
        ORDER BY total_exec_time DESC`,
      [database, `${PROBE_MARK}%`],
    )
    const n = Math.max(1, delivered)
    const statements = rows.map((r) => ({
      query: r.query.replace(/\s+/g, ' ').slice(0, 120),
      calls: Number(r.calls),
      rows: Number(r.rows),
      totalMs: Math.round(Number(r.ms)),
      usPerMessage: round1((Number(r.ms) * 1000) / n),
      buffersPerMessage: round1(Number(r.blks) / n),
    }))
    return {
      statements,
      calls: statements.reduce((s, x) => s + x.calls, 0),
      buffersPerMessage: round1(rows.reduce((s, r) => s + Number(r.blks), 0) / n),
      totalUsPerMessage: round1(rows.reduce((s, r) => s + Number(r.ms), 0) * (1000 / n)),
    }
  } catch {
    return null // pg_stat_statements not loaded
  } finally {
    await db.end()
  }
}

/** Rows inserted, updated and deleted in the rollup tables (usage_*) of the run's database, per delivered message. */
export async function rollupRowWrites(db: pg.Client, delivered: number) {
  const { rows } = await db.query<{ ins: string; upd: string; del: string }>(
    `SELECT sum(n_tup_ins)::text AS ins, sum(n_tup_upd)::text AS upd, sum(n_tup_del)::text AS del
       FROM pg_stat_user_tables WHERE relname LIKE 'usage\\_%'`,
  )
  const n = Math.max(1, delivered)
  const r = rows[0]
  return {
    insPerMessage: round1(Number(r?.ins ?? 0) / n),
    updPerMessage: round1(Number(r?.upd ?? 0) / n),
    delPerMessage: round1(Number(r?.del ?? 0) / n),
  }
}
