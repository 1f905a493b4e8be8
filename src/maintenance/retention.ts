// Retention (ADR 0019): message bodies older than SMSGW_BODY_RETENTION_DAYS are redacted (set to
// NULL: messages_guard lets only the status projection and the body change), an hour of messages
// per transaction from a saved position; day partitions older than SMSGW_MESSAGE_RETENTION_DAYS
// are archived and dropped (archive.ts), their bodies redacted first, so an archive never holds one;
// customer events (API-visible for 30 days) are archived after EVENT_RETENTION_DAYS.
// Each step runs under a transaction-scoped advisory lock, so two processes never do one twice.

import type { Db, Queryable } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'
import { uuidFloor } from '../reporting/buckets.ts'
import {
  archiveDayRows,
  DAY_ROW_TABLES,
  type DayPartition,
  type DayRows,
  dayPartitionsBefore,
  dayRows,
  detach,
  discardExport,
  exportTable,
  verifyAndDrop,
} from './archive.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
/** Arbitrary constant: one retention step at a time across processes. */
export const RETENTION_LOCK = 7_200_731_019
/** customer_events are shown by GET /v1/events for 30 days; a day more before they are archived. */
export const EVENT_RETENTION_DAYS = 31

export interface RetentionOptions {
  bodyRetentionDays: number
  /** Absent: messages are kept for ever. */
  messageRetentionDays?: number | undefined
  archiveDir: string
}

export interface RetentionPlan {
  /** Bodies of messages created in [from, to) are to be redacted; null when nothing is due. */
  redact: { from: string; to: string } | null
  archive: DayPartition[]
  /** deliveries and carrier_refs rows of the days whose messages are (or are about to be) archived. */
  archiveRows: DayRows[]
}

export interface RetentionResult {
  redacted: number
  archived: { table: string; day: string; rows: number }[]
}

const dayString = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export async function planRetention(
  db: Db,
  opts: RetentionOptions,
  now = Date.now(),
): Promise<RetentionPlan> {
  const redactTo = Math.floor((now - opts.bodyRetentionDays * DAY) / HOUR) * HOUR
  const redactFrom = await redactionStart(db)
  const parts = opts.messageRetentionDays
    ? await dayPartitionsBefore(
        db,
        ['messages', 'message_events'],
        dayString(now - opts.messageRetentionDays * DAY),
      )
    : []
  const events = await dayPartitionsBefore(
    db,
    ['customer_events'],
    dayString(now - EVENT_RETENTION_DAYS * DAY),
  )
  return {
    redact:
      redactFrom !== null && redactFrom < redactTo
        ? { from: new Date(redactFrom).toISOString(), to: new Date(redactTo).toISOString() }
        : null,
    archive: [...parts, ...events],
    archiveRows: await dayRowsDue(
      db,
      parts.filter((p) => p.parent === 'messages').map((p) => p.day),
    ),
  }
}

/**
 * The deliveries and carrier_refs of each day whose messages partition is archived (archived_days)
 * or about to be (`planned`), unless that table's rows of the day are archived already.
 */
async function dayRowsDue(db: Db, planned: string[]): Promise<DayRows[]> {
  const { rows } = await db.query<{ day: string; tables: string[] }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, tables FROM archived_days WHERE 'messages' = ANY(tables) ORDER BY day`,
  )
  const done = new Map(rows.map((r) => [r.day, new Set(r.tables)]))
  const days = [...new Set([...rows.map((r) => r.day), ...planned])].sort()
  return days.flatMap((day) =>
    DAY_ROW_TABLES.filter((t) => !done.get(day)?.has(t)).map((t) => dayRows(t, day)),
  )
}

/** Where redaction resumes: its saved position, or the oldest message when that is later. */
async function redactionStart(db: Db): Promise<number | null> {
  const { rows } = await db.query<{ pos: Date | null; oldest: string | null }>(
    `SELECT (SELECT swept_to FROM usage_sweep_position WHERE name = 'body_redaction') AS pos,
            (SELECT id::text FROM messages ORDER BY id LIMIT 1) AS oldest`,
  )
  const oldest = rows[0]?.oldest ? uuidV7Time(rows[0].oldest) : null
  if (oldest === null) return null
  const pos = rows[0]?.pos?.getTime() ?? 0
  return Math.max(pos, Math.floor(oldest / HOUR) * HOUR)
}

async function withLock<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T | undefined> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
      RETENTION_LOCK,
    ])
    return rows[0]?.ok ? fn(tx) : undefined
  })
}

/** Redacts bodies in [from, to), an hour per transaction, saving the position after each. */
export async function redactBodies(db: Db, plan: RetentionPlan): Promise<number> {
  if (!plan.redact) return 0
  let n = 0
  const to = Date.parse(plan.redact.to)
  for (let a = Date.parse(plan.redact.from); a < to; a += HOUR) {
    const b = Math.min(a + HOUR, to)
    const done = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
        RETENTION_LOCK,
      ])
      if (!rows[0]?.ok) return null
      const { rowCount } = await tx.query(
        `UPDATE messages SET body = NULL
          WHERE id >= $1::uuid AND id < $2::uuid AND created_at >= $3 AND created_at < $4 AND body IS NOT NULL`,
        [uuidFloor(a), uuidFloor(b), new Date(a), new Date(b)],
      )
      await tx.query(
        `INSERT INTO usage_sweep_position (name, swept_to) VALUES ('body_redaction', $1)
         ON CONFLICT (name) DO UPDATE SET swept_to = greatest(usage_sweep_position.swept_to, EXCLUDED.swept_to)`,
        [new Date(b)],
      )
      return rowCount
    })
    if (done === null) break
    n += done
  }
  return n
}

/** Redacts, then archives and drops every partition of the plan. */
export async function runRetention(
  db: Db,
  opts: RetentionOptions,
  now = Date.now(),
): Promise<RetentionResult> {
  const plan = await planRetention(db, opts, now)
  const redacted = await redactBodies(db, plan)
  const archived: RetentionResult['archived'] = []
  for (const p of plan.archive) {
    const done = await withLock(db, async (tx) => {
      await detach(tx, p)
      // An archive never holds a body, whatever SMSGW_BODY_RETENTION_DAYS says.
      if (p.parent === 'messages') await tx.query(`UPDATE ${p.table} SET body = NULL WHERE body IS NOT NULL`)
      return true
    })
    if (done === undefined) continue
    const manifest = await exportTable(db, opts.archiveDir, p)
    try {
      await verifyAndDrop(db, opts.archiveDir, p)
    } catch (err) {
      await discardExport(opts.archiveDir, p)
      throw err
    }
    archived.push({ table: p.table, day: p.day, rows: manifest.rows })
  }
  // After the messages partitions: a day's deliveries and carrier_refs go once its messages have.
  for (const p of plan.archiveRows) {
    const manifest = await archiveDayRows(db, opts.archiveDir, p, RETENTION_LOCK)
    if (manifest) archived.push({ table: p.table, day: p.day, rows: manifest.rows })
  }
  return { redacted, archived }
}
