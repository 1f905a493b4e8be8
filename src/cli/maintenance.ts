// `smsgw maintenance [--dry-run]`: the housekeeping job once, now (it also runs hourly in every
// process): partitions ahead, expired idempotency keys and parked receipts, body redaction and
// the archive of day partitions past retention. --dry-run prints what it would do, changing nothing.

import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Config } from '../config/config.ts'
import { countDayRows } from '../maintenance/archive.ts'
import { runMaintenance } from '../maintenance/maintenance.ts'
import { planRetention, type RetentionOptions } from '../maintenance/retention.ts'
import { openDb, prepareDb } from './runtime.ts'
import { UsageError } from './usage.ts'

export const MAINTENANCE_USAGE = `usage: smsgw maintenance [--dry-run]
  runs the housekeeping job once: partitions ahead, expired idempotency keys and parked receipts,
  bodies older than SMSGW_BODY_RETENTION_DAYS redacted, day partitions older than
  SMSGW_MESSAGE_RETENTION_DAYS archived to SMSGW_ARCHIVE_DIR and dropped, with the deliveries and
  carrier_refs rows of those days (archived, then deleted)
  --dry-run  print what it would do and change nothing`

export function retentionOptions(config: Config): RetentionOptions {
  return {
    bodyRetentionDays: config.SMSGW_BODY_RETENTION_DAYS,
    messageRetentionDays: config.SMSGW_MESSAGE_RETENTION_DAYS,
    archiveDir: resolve(config.SMSGW_ARCHIVE_DIR ?? join(config.SMSGW_DATA_DIR, 'archive')),
  }
}

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
  const retention = retentionOptions(config)
  const db = await openDb(config, 'smsgw-maintenance', { unbounded: true, poolSize: 2 })
  try {
    if (values['dry-run']) {
      const { rows } = await db.query<{ keys: number }>(
        'SELECT count(*)::int AS keys FROM idempotency_keys WHERE expires_at < now()',
      )
      const plan = await planRetention(db, retention)
      out(`expired idempotency keys to delete: ${rows[0]?.keys ?? 0}`)
      out(
        plan.redact
          ? `redact bodies of messages created ${plan.redact.from} … ${plan.redact.to} (SMSGW_BODY_RETENTION_DAYS=${retention.bodyRetentionDays})`
          : 'no bodies to redact',
      )
      if (!retention.messageRetentionDays) out('SMSGW_MESSAGE_RETENTION_DAYS unset: messages are kept')
      for (const p of plan.archive)
        out(
          `archive ${p.table} (${p.day}${p.attached ? '' : ', already detached'}) to ${retention.archiveDir}/${p.day}/, then drop it`,
        )
      if (plan.archive.length === 0) out('no partitions to archive')
      for (const p of plan.archiveRows)
        out(
          `archive ${p.parent} rows of ${p.day} (${await countDayRows(db, p)} now) to ${retention.archiveDir}/${p.day}/${p.table}.ndjson.gz, then delete them${plan.archive.some((a) => a.parent === 'messages' && a.day === p.day) ? ' (after that day’s messages)' : ''}`,
        )
      if (plan.archiveRows.length === 0) out('no deliveries or carrier_refs rows to archive')
      return
    }
    await prepareDb(db)
    out(JSON.stringify(await runMaintenance(db, Date.now(), retention), null, 2))
  } finally {
    await db.close()
  }
}
