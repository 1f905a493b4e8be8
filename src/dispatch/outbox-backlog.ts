import type { Queryable } from '../db/db.ts'
import type { Priority } from '../domain/message.ts'

/** Most rows counted per lane: a scrape must stay cheap however deep a flood's backlog is. */
export const BACKLOG_COUNT_CAP = 100_000

/**
 * Messages of a lane waiting in the outbox (due now, not yet released to the bus), counted up to
 * `cap` over the outbox(priority, customer_id, seq) index. This is the queue a backlog builds in:
 * the bus only ever holds the dispatcher's window (smsgw_lane_pending).
 */
export async function countOutboxBacklog(
  q: Queryable,
  lane: Priority,
  cap = BACKLOG_COUNT_CAP,
): Promise<number> {
  const { rows } = await q.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM (
       SELECT 1 FROM outbox WHERE priority = $1 AND available_at <= now() LIMIT $2) x`,
    [lane, cap],
  )
  return Number(rows[0]?.n ?? 0)
}
