// `smsgw rollups rebuild --from T --to T`: recomputes the usage rollups of a time range from the
// message log (after a restore, a bug fix, or to cover history from before the rollup role ran).

import { parseArgs } from 'node:util'
import type { Config } from '../config/config.ts'
import { parseTimestamp } from '../domain/timestamps.ts'
import { rebuildRollups } from '../reporting/rollups.ts'
import { openDb, prepareDb } from './runtime.ts'
import { UsageError } from './usage.ts'

export const ROLLUPS_USAGE = `usage: smsgw rollups rebuild --from <RFC 3339 time> --to <RFC 3339 time>
  recomputes the minute/hour/day usage rollups of [from, to) from the message log, a day at a
  time (archived days are left as they are); safe while the gateway runs`

export async function runRollups(config: Config, argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) return out(ROLLUPS_USAGE)
  if (positionals[0] !== 'rebuild' || positionals.length !== 1)
    throw new UsageError(`expected 'rollups rebuild'\n\n${ROLLUPS_USAGE}`)
  const from = parseTimestamp(values.from)
  const to = parseTimestamp(values.to)
  if (from === null || to === null || to <= from)
    throw new UsageError(`--from and --to must be RFC 3339 times, from < to\n\n${ROLLUPS_USAGE}`)
  const db = await openDb(config, 'smsgw-rollups', { unbounded: true })
  try {
    await prepareDb(db)
    const n = await rebuildRollups(db, from, to, (day, keys) =>
      out(`${new Date(day).toISOString().slice(0, 10)}: ${keys} (customer, minute) buckets recomputed`),
    )
    out(`done: ${n} buckets`)
  } finally {
    await db.close()
  }
}
