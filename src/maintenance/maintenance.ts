import type { Db } from '../db/db.ts'
import { ensurePartitions } from '../db/partitions.ts'
import { expireParkedReceipts } from '../delivery/parked-receipts.ts'
import { type RetentionOptions, type RetentionResult, runRetention } from './retention.ts'

export interface MaintenanceResult {
  partitions: string[]
  expiredKeys: number
  expiredReceipts: number
  /** Present when retention options were given (the scheduled job and `smsgw maintenance`). */
  retention?: RetentionResult
}

/**
 * Periodic housekeeping: daily partitions 7 days ahead, expired idempotency keys removed,
 * receipts parked past their bound (24 h) deleted; with `retention`, bodies redacted and old day
 * partitions archived and dropped (retention.ts).
 */
export async function runMaintenance(
  db: Db,
  now = Date.now(),
  retention?: RetentionOptions,
): Promise<MaintenanceResult> {
  const partitions = await ensurePartitions(db, now)
  const { rowCount } = await db.query('DELETE FROM idempotency_keys WHERE expires_at < now()')
  const expiredReceipts = await expireParkedReceipts(db)
  const result: MaintenanceResult = { partitions, expiredKeys: rowCount, expiredReceipts }
  if (retention) result.retention = await runRetention(db, retention, now)
  return result
}

/** Runs maintenance every `everyMs` (default hourly); failures are logged and retried next time. */
export function scheduleMaintenance(
  db: Db,
  onError: (err: unknown) => void,
  everyMs = 3_600_000,
  retention?: RetentionOptions,
): () => void {
  const timer = setInterval(() => {
    runMaintenance(db, Date.now(), retention).catch(onError)
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
