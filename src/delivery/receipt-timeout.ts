import type { Db } from '../db/db.ts'
import type { StatusWriter } from '../events/status-writer.ts'

export interface ReceiptTimeoutOptions {
  db: Db
  statuses: StatusWriter
  /** How long after its validity period a message still waits for its receipt, seconds. */
  graceS: number
  /** Most messages closed per sweep (default 5 000); the next sweep continues. */
  limit?: number
}

/**
 * Closes messages a carrier took but never reported on (API.md: `unknown` when no receipt
 * arrived before the validity period ended): still `sent` graceS after their validity period →
 * `unknown`, not refunded (the carrier may have delivered them). A final status is final, so a
 * receipt arriving later is dropped. Looks at submits of the last 10 days. Returns how many it closed.
 */
export async function closeUnreportedMessages(opts: ReceiptTimeoutOptions): Promise<number> {
  const { rows } = await opts.db.query<{ id: string; created_at: Date }>(
    `SELECT m.id, m.created_at FROM deliveries d
       JOIN messages m ON m.id = d.message_id AND m.created_at = d.message_created_at
      WHERE d.state = 'submitted' AND d.updated_at < now() - $1 * interval '1 second'
        AND d.updated_at > now() - interval '10 days'
        AND m.status = 'sent' AND m.expires_at < now() - $1 * interval '1 second'
      ORDER BY d.updated_at LIMIT $2`,
    [opts.graceS, opts.limit ?? 5000],
  )
  await Promise.all(
    rows.map((r) =>
      opts.statuses.write({
        messageId: r.id,
        createdAt: new Date(r.created_at).toISOString(),
        status: 'unknown',
        detail: { reason: `no delivery receipt by ${opts.graceS} s after the validity period` },
      }),
    ),
  )
  return rows.length
}
