import type { Db } from '../db/db.ts'
import { ensurePartitions } from '../db/partitions.ts'
import { expireParkedReceipts } from '../delivery/parked-receipts.ts'

/**
 * Periodic housekeeping: daily partitions 7 days ahead, expired idempotency keys removed,
 * receipts parked past their bound (24 h) deleted.
 */
export async function runMaintenance(
  db: Db,
  now = Date.now(),
): Promise<{ partitions: string[]; expiredKeys: number; expiredReceipts: number }> {
  const partitions = await ensurePartitions(db, now)
  const { rowCount } = await db.query('DELETE FROM idempotency_keys WHERE expires_at < now()')
  const expiredReceipts = await expireParkedReceipts(db)
  return { partitions, expiredKeys: rowCount, expiredReceipts }
}

/** Runs maintenance every `everyMs` (default hourly); failures are logged and retried next time. */
export function scheduleMaintenance(
  db: Db,
  onError: (err: unknown) => void,
  everyMs = 3_600_000,
): () => void {
  const timer = setInterval(() => {
    runMaintenance(db).catch(onError)
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
