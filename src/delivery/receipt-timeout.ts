import type { Db } from '../db/db.ts'
import type { StatusWriter } from '../events/status-writer.ts'

export interface ReceiptTimeoutOptions {
  db: Db
  statuses: StatusWriter
  /** How long after its validity period a message still waits for its receipt, seconds. */
  graceS: number
  /** Most deliveries looked at per sweep (default 50 000); the next sweep continues. */
  limit?: number
  /** Deliveries read per statement (default 5 000). */
  chunk?: number
}

const ZERO_ID = '00000000-0000-0000-0000-000000000000'

/**
 * Closes messages a carrier took but never reported on (API.md: `unknown` when no receipt
 * arrived before the validity period ended): still `sent` graceS after their validity period →
 * `unknown`, not refunded (the carrier may have delivered them). A final status is final, so a
 * receipt arriving later is dropped. Returns how many it closed.
 *
 * Deliveries are read in the order their validity ends, from the position the last sweep saved
 * (migration 0028): each is looked at once, when grace has passed since its validity ended, so a
 * sweep costs what arrived since the last one, not the whole window. Two processes sweeping at
 * once read the same rows; the status writer keeps the first final status, and only the sweep
 * that still finds the position it started from saves its own.
 */
export async function closeUnreportedMessages(opts: ReceiptTimeoutOptions): Promise<number> {
  const chunk = opts.chunk ?? 5000
  const limit = opts.limit ?? 50_000
  // Timestamps as text: a JS Date would drop the microseconds, and the keyset needs them exact.
  const { rows: start } = await opts.db.query<{ mark: string; mark_id: string; cutoff: string }>(
    `SELECT mark::text, mark_id, (now() - $1 * interval '1 second')::text AS cutoff FROM receipt_sweep_position`,
    [opts.graceS],
  )
  const from = start[0]
  if (!from) return 0
  let mark = { at: from.mark, id: from.mark_id }
  let closed = 0
  for (let seen = 0; seen < limit; ) {
    const { rows: read } = await opts.db.query<{
      message_id: string
      expires_at: string
      created_at: Date
      sent: boolean
      in_flight: boolean
    }>(
      `SELECT d.message_id, d.expires_at::text, d.message_created_at AS created_at,
              d.state = 'submitted' AND coalesce(m.status = 'sent', false) AS sent,
              d.state IN ('claimed', 'submitting') AND d.updated_at > now() - interval '10 minutes' AS in_flight
         FROM (SELECT message_id, message_created_at, expires_at, state, updated_at FROM deliveries
                WHERE (expires_at, message_id) > ($1::timestamptz, $2::uuid) AND expires_at < $3::timestamptz
                ORDER BY expires_at, message_id LIMIT $4) d
         LEFT JOIN messages m ON m.id = d.message_id AND m.created_at = d.message_created_at
        ORDER BY d.expires_at, d.message_id`,
      [mark.at, mark.id, from.cutoff, chunk],
      { name: 'receipt_timeout_scan' },
    )
    // A submit still on its way (started before the validity ended) may yet become `submitted`:
    // the position stops before it, so a later sweep reads it again.
    const stop = read.findIndex((r) => r.in_flight)
    const rows = stop < 0 ? read : read.slice(0, stop)
    await Promise.all(
      rows
        .filter((r) => r.sent)
        .map((r) =>
          opts.statuses.write({
            messageId: r.message_id,
            createdAt: new Date(r.created_at).toISOString(),
            status: 'unknown',
            detail: { reason: `no delivery receipt by ${opts.graceS} s after the validity period` },
          }),
        ),
    )
    closed += rows.filter((r) => r.sent).length
    seen += rows.length
    const last = rows.at(-1)
    if (stop >= 0) {
      if (last) mark = { at: last.expires_at, id: last.message_id }
      break
    }
    // Fewer rows than asked: every delivery whose validity ended before the cutoff has been read.
    if (rows.length < chunk) {
      mark = { at: from.cutoff, id: ZERO_ID }
      break
    }
    if (!last) break
    mark = { at: last.expires_at, id: last.message_id }
  }
  await opts.db.query(
    `UPDATE receipt_sweep_position SET mark = $3::timestamptz, mark_id = $4 WHERE mark = $1::timestamptz AND mark_id = $2`,
    [from.mark, from.mark_id, mark.at, mark.id],
  )
  return closed
}
