import type { InboundMessage, Receipt } from '../carriers/carrier.ts'
import type { Db } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import type { MessageStatus } from '../domain/status.ts'
import type { StatusWriter } from './status-writer.ts'

export interface ReceiptHandlerOptions {
  db: Db
  statuses: StatusWriter
  /** A receipt can overtake our record of the submit; look again this often, this many times. */
  retryMs?: number
  retries?: number
  onMatched?: (status: MessageStatus) => void
  /** Seconds from the carrier accepting a part to its receipt. */
  onReceiptLatency?: (seconds: number) => void
  onUnmatched?: (carrier: string, r: Receipt) => void
  onError?: (err: unknown) => void
}

/** The message status once every part has a receipt: delivered only if all parts were. */
export function messageStatusFromParts(parts: (string | null)[], total: number): MessageStatus | undefined {
  const known = parts.filter((p): p is string => p !== null && p !== 'accepted')
  if (known.length < total) return undefined
  if (known.every((p) => p === 'delivered')) return 'delivered'
  if (known.includes('expired')) return 'expired'
  if (known.includes('unknown') && !known.some((p) => p === 'undelivered' || p === 'rejected'))
    return 'unknown'
  return 'undelivered'
}

/** Matches carrier receipts (per part) to our messages and moves their status. */
export function createReceiptHandler(opts: ReceiptHandlerOptions) {
  const retryMs = opts.retryMs ?? 200
  const retries = opts.retries ?? 50

  async function apply(carrier: string, r: Receipt): Promise<boolean> {
    const { rows } = await opts.db.query<{
      message_id: string
      message_created_at: Date
      parts: number
      created_at: Date
    }>(
      `UPDATE carrier_refs SET receipt_status = $3 WHERE carrier = $1 AND carrier_id = $2
       RETURNING message_id, message_created_at, parts, created_at`,
      [carrier, r.carrierId, r.status],
    )
    const ref = rows[0]
    if (!ref) return false
    opts.onReceiptLatency?.((Date.now() - new Date(ref.created_at).getTime()) / 1000)
    // Read after our update committed: of two parts' receipts racing, the later one sees both.
    const { rows: parts } = await opts.db.query<{ receipt_status: string | null }>(
      'SELECT receipt_status FROM carrier_refs WHERE message_id = $1',
      [ref.message_id],
    )
    const status = messageStatusFromParts(
      parts.map((p) => p.receipt_status),
      Number(ref.parts),
    )
    if (status) {
      await opts.statuses.write({
        messageId: ref.message_id,
        createdAt: new Date(ref.message_created_at).toISOString(),
        status,
        detail: { carrier, error_code: r.errorCode ?? null, done_at: r.doneAt?.toISOString() ?? null },
      })
      opts.onMatched?.(status)
    }
    return true
  }

  return {
    /**
     * Resolves once the receipt is recorded, so the carrier is acknowledged only then; rejects on
     * a database error (the carrier redelivers). A receipt still unmatched after the retries is
     * reported and dropped.
     */
    async handle(carrier: string, r: Receipt): Promise<void> {
      for (let i = 0; i <= retries; i++) {
        if (await apply(carrier, r)) return
        await new Promise((res) => setTimeout(res, retryMs))
      }
      opts.onUnmatched?.(carrier, r)
    },
    async inbound(carrier: string, m: InboundMessage): Promise<void> {
      await opts.db.query(
        `INSERT INTO inbound_messages (id, carrier, from_number, to_number, body, received_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [newId(), carrier, m.from, m.to, m.body.replaceAll('\u0000', ''), m.receivedAt.toISOString()],
      )
    },
  }
}
