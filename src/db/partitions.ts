import type { Db } from './db.ts'

/** Tables range-partitioned by day on created_at. */
export const DAILY_PARTITIONED = ['messages', 'message_events', 'customer_events'] as const
const PARTITION_LOCK = 7_200_731_002
/** Storage options of a table's partitions: room on each page for HOT status updates (migrations 0018, 0023). */
const PARTITION_OPTIONS: Partial<Record<(typeof DAILY_PARTITIONED)[number], string>> = {
  messages: ' WITH (fillfactor = 50)',
}
const DAY_MS = 86_400_000

function dayStart(ms: number): Date {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS)
}

export function partitionName(table: string, day: Date): string {
  return `${table}_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`
}

/**
 * Creates the daily partitions from `daysBehind` days ago to `daysAhead` days ahead (UTC days).
 * Idempotent and safe to run from several processes at once (advisory lock).
 */
export async function ensurePartitions(
  db: Db,
  now = Date.now(),
  daysAhead = 7,
  daysBehind = 1,
): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK])
    const { rows } = await tx.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY($1)`,
      [DAILY_PARTITIONED],
    )
    const existing = new Set(rows.map((r) => r.name))
    const created: string[] = []
    for (let d = -daysBehind; d <= daysAhead; d++) {
      const from = dayStart(now + d * DAY_MS)
      const to = new Date(from.getTime() + DAY_MS)
      for (const table of DAILY_PARTITIONED) {
        const name = partitionName(table, from)
        if (existing.has(name)) continue
        await tx.exec(
          `CREATE TABLE ${name} PARTITION OF ${table} FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')${PARTITION_OPTIONS[table] ?? ''}`,
        )
        created.push(name)
      }
    }
    return created
  })
}
