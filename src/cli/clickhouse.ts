// `smsgw clickhouse backfill --from T --to T`: copies the messages created in a time range from
// PostgreSQL to ClickHouse and reconciles that range's totals (history from before the sink ran,
// or a repair after an outage longer than the bus keeps events). Idempotent (ADR 0018).

import { parseArgs } from 'node:util'
import type { Config } from '../config/config.ts'
import { parseTimestamp } from '../domain/timestamps.ts'
import { backfillClickHouse, createClickHouse, ensureClickHouseSchema } from '../reporting/clickhouse.ts'
import { openDb, prepareDb } from './runtime.ts'
import { UsageError } from './usage.ts'

export const CLICKHOUSE_USAGE = `usage: smsgw clickhouse backfill --from <RFC 3339 time> --to <RFC 3339 time>
  copies every message created in [from, to) (whole minutes) from PostgreSQL to CLICKHOUSE_URL and
  reconciles the range's usage totals, a day at a time; idempotent, safe while the gateway runs
  (messages of archived days are no longer in PostgreSQL and are not copied)`

export async function runClickHouse(config: Config, argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) return out(CLICKHOUSE_USAGE)
  if (positionals[0] !== 'backfill' || positionals.length !== 1)
    throw new UsageError(`expected 'clickhouse backfill'\n\n${CLICKHOUSE_USAGE}`)
  const from = parseTimestamp(values.from)
  const to = parseTimestamp(values.to)
  if (from === null || to === null || to <= from)
    throw new UsageError(`--from and --to must be RFC 3339 times, from < to\n\n${CLICKHOUSE_USAGE}`)
  if (!config.CLICKHOUSE_URL) throw new UsageError(`CLICKHOUSE_URL is not set\n\n${CLICKHOUSE_USAGE}`)
  if (!config.DATABASE_URL) throw new UsageError(`DATABASE_URL is not set\n\n${CLICKHOUSE_USAGE}`)
  const ch = createClickHouse(config.CLICKHOUSE_URL)
  const db = await openDb(config, 'smsgw-clickhouse', { unbounded: true })
  try {
    await prepareDb(db)
    await ensureClickHouseSchema(ch, config.CLICKHOUSE_URL)
    const n = await backfillClickHouse(db, ch, from, to, (day, messages) =>
      out(`${new Date(day).toISOString().slice(0, 10)}: ${messages} messages copied, totals reconciled`),
    )
    out(`done: ${n} messages`)
  } finally {
    await db.close()
  }
}
