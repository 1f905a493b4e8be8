// `smsgw maintenance [--dry-run]`: the housekeeping job once, now (it also runs hourly in every
// process): partitions ahead, expired idempotency keys and parked receipts.

import { parseArgs } from 'node:util'
import type { Config } from '../config/config.ts'
import { runMaintenance } from '../maintenance/maintenance.ts'
import { openDb, prepareDb } from './runtime.ts'
import { UsageError } from './usage.ts'

export const MAINTENANCE_USAGE = `usage: smsgw maintenance [--dry-run]
  runs the housekeeping job once: partitions ahead, expired idempotency keys and parked receipts`

export async function runMaintenanceCommand(
  config: Config,
  argv: string[],
  out: (s: string) => void,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) return out(MAINTENANCE_USAGE)
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${MAINTENANCE_USAGE}`)
  const db = await openDb(config, 'smsgw-maintenance', { unbounded: true, poolSize: 2 })
  try {
    await prepareDb(db)
    out(JSON.stringify(await runMaintenance(db), null, 2))
  } finally {
    await db.close()
  }
}
