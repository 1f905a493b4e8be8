import { createGroupCommitter } from '../billing/group-commit.ts'
import type { InboundMessage, Receipt } from '../carriers/carrier.ts'
import type { Db } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import type { MessageStatus } from '../domain/status.ts'
import type { StatusWriter } from '../events/status-writer.ts'

export interface ReceiptHandlerOptions {
  db: Db
  statuses: StatusWriter
  /** A receipt can overtake our record of the submit; look again this often, this many times. */
  retryMs?: number
  retries?: number
  onMatched?: (status: MessageStatus) => void
  /** Seconds from the carrier accepting a part to its receipt. */
  onReceiptLatency?: (seconds: number) => void
  /** A receipt (one part's) matched, by the carrier that sent it. */
  onCarrierReceipt?: (carrier: string) => void
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

  interface Match {
    carrier: string
    receipt: Receipt
  }
  // Receipts arriving together are matched together: one UPDATE over the group, then one read of
  // the parts of the multipart messages among them. Returns, per receipt, whether it matched.
  const matcher = createGroupCommitter<Match, boolean>({
    maxBatch: 500,
    concurrency: 2,
    run: async (items) => {
      const keyOf = (carrier: string, id: string) => `${carrier}\u0000${id}`
      const unique = [...new Map(items.map((i) => [keyOf(i.carrier, i.receipt.carrierId), i])).values()]
      const { rows } = await opts.db.query<{
        carrier: string
        carrier_id: string
        message_id: string
        message_created_at: Date
        parts: number
        created_at: Date
      }>(
        `UPDATE carrier_refs c SET receipt_status = x.status
           FROM unnest($1::text[], $2::text[], $3::text[]) AS x(carrier, carrier_id, status)
          WHERE c.carrier = x.carrier AND c.carrier_id = x.carrier_id
          RETURNING c.carrier, c.carrier_id, c.message_id, c.message_created_at, c.parts, c.created_at`,
        [
          unique.map((i) => i.carrier),
          unique.map((i) => i.receipt.carrierId),
          unique.map((i) => i.receipt.status),
        ],
        { name: 'receipt_match' },
      )
      const matched = new Map(rows.map((r) => [keyOf(r.carrier, r.carrier_id), r]))
      // Read after our update committed: of two parts' receipts racing, the later one sees both.
      const multipart = [...new Set(rows.filter((r) => Number(r.parts) > 1).map((r) => r.message_id))]
      const partsOf = new Map<string, (string | null)[]>()
      if (multipart.length > 0) {
        const { rows: parts } = await opts.db.query<{ message_id: string; receipt_status: string | null }>(
          'SELECT message_id, receipt_status FROM carrier_refs WHERE message_id = ANY($1::uuid[])',
          [multipart],
        )
        for (const p of parts)
          partsOf.set(p.message_id, [...(partsOf.get(p.message_id) ?? []), p.receipt_status])
      }
      const writes: Promise<void>[] = []
      for (const { carrier, receipt: r } of unique) {
        const ref = matched.get(keyOf(carrier, r.carrierId))
        if (!ref) continue
        opts.onCarrierReceipt?.(carrier)
        opts.onReceiptLatency?.((Date.now() - new Date(ref.created_at).getTime()) / 1000)
        const parts = Number(ref.parts)
        const status = messageStatusFromParts(
          parts > 1 ? (partsOf.get(ref.message_id) ?? []) : [r.status],
          parts,
        )
        if (!status) continue
        writes.push(
          opts.statuses.write({
            messageId: ref.message_id,
            createdAt: new Date(ref.message_created_at).toISOString(),
            status,
            detail: { carrier, error_code: r.errorCode ?? null, done_at: r.doneAt?.toISOString() ?? null },
          }),
        )
        opts.onMatched?.(status)
      }
      await Promise.all(writes)
      return items.map((i) => matched.has(keyOf(i.carrier, i.receipt.carrierId)))
    },
  })
  const apply = (carrier: string, receipt: Receipt) => matcher.submit({ carrier, receipt })

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
