import type { InboundMessage, Receipt } from '../carriers/carrier.ts'
import type { Db } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import type { MessageStatus } from '../domain/status.ts'
import type { StatusChange, StatusWriter } from '../events/status-writer.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { TRACING_OFF, type TraceSpan, type Tracing } from '../observability/tracing.ts'
import { matchableParked, type ParkedReceipt, parkReceipts, unparkReceipts } from './parked-receipts.ts'
import type { PendingRefs } from './pending-refs.ts'

export interface ReceiptHandlerOptions {
  db: Db
  statuses: StatusWriter
  /** Carrier ids being recorded in this process: a receipt for one waits for it instead of being parked. */
  pendingRefs?: PendingRefs
  onMatched?: (status: MessageStatus) => void
  /** Seconds from the carrier accepting a part to its receipt. */
  onReceiptLatency?: (seconds: number) => void
  /** A receipt (one part's) matched, by the carrier that sent it. */
  onCarrierReceipt?: (carrier: string) => void
  /** A receipt matched no message on arrival and was parked. */
  onUnmatched?: (carrier: string, r: Receipt) => void
  /** Parked receipts that found their message later. */
  onRematched?: (count: number) => void
  /** A failure in background work (re-matching parked receipts); a receipt's own failure also rejects handle(). */
  onError?: (err: unknown) => void
  /** A span per matched receipt, under the message's submit span (ADR 16); default off. */
  tracing?: Tracing
}

interface PartReceipt {
  ref: MatchedRef
  carrier: string
  receipt: Receipt
  span: TraceSpan
}

interface MatchedRef {
  carrier: string
  carrier_id: string
  message_id: string
  message_created_at: Date
  parts: number
  created_at: Date
  trace_parent: string | null
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

/**
 * Matches carrier receipts (per part) to our messages and moves their status. A receipt that
 * matches nothing is parked at once (never retried in the request) and matched again when its
 * carrier id is recorded (rematch) or by the periodic sweep.
 */
export function createReceiptHandler(opts: ReceiptHandlerOptions) {
  const keyOf = (carrier: string, id: string) => `${carrier}\u0000${id}`
  const tracing = opts.tracing ?? TRACING_OFF

  // One transaction over a group of receipts: one UPDATE of their parts, and the final status of
  // every single-part message among them (one commit, durable before the carrier hears back).
  // Multipart messages are decided after that commit, by reading all their parts: of two parts'
  // receipts racing, the later commit then sees both. Returns the keys that matched.
  async function match(items: ParkedReceipt[]): Promise<Set<string>> {
    // Sorted, so concurrent groups lock the parts in one order.
    const unique = [...new Map(items.map((i) => [keyOf(i.carrier, i.receipt.carrierId), i]))]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, i]) => i)
    const multipartRefs: PartReceipt[] = []
    // Spans of the single-part receipts: their status commits with the transaction.
    const spans: TraceSpan[] = []
    const matched = await opts.statuses
      .transaction(async (tx) => {
        const { rows } = await tx.query<MatchedRef>(
          // An intermediate `accepted` never overwrites a final part status (a parked one can arrive late).
          `UPDATE carrier_refs c
            SET receipt_status = CASE WHEN x.status = 'accepted' AND c.receipt_status IS NOT NULL
                                      THEN c.receipt_status ELSE x.status END
           FROM unnest($1::text[], $2::text[], $3::text[]) AS x(carrier, carrier_id, status)
          WHERE c.carrier = x.carrier AND c.carrier_id = x.carrier_id
          RETURNING c.carrier, c.carrier_id, c.message_id, c.message_created_at, c.parts, c.created_at, c.trace_parent`,
          [
            unique.map((i) => i.carrier),
            unique.map((i) => i.receipt.carrierId),
            unique.map((i) => i.receipt.status),
          ],
          { name: 'receipt_match' },
        )
        const matched = new Map(rows.map((r) => [keyOf(r.carrier, r.carrier_id), r]))
        const changes: StatusChange[] = []
        for (const { carrier, receipt: r } of unique) {
          const ref = matched.get(keyOf(carrier, r.carrierId))
          if (!ref) continue
          opts.onCarrierReceipt?.(carrier)
          opts.onReceiptLatency?.((Date.now() - new Date(ref.created_at).getTime()) / 1000)
          const span = tracing.receiptMatched(ref.message_id, carrier, r.status, ref.trace_parent)
          if (Number(ref.parts) > 1) {
            multipartRefs.push({ ref, carrier, receipt: r, span })
            continue
          }
          spans.push(span)
          const status = messageStatusFromParts([r.status], 1)
          if (!status) continue
          changes.push(statusChange(ref, carrier, r, status))
          opts.onMatched?.(status)
        }
        return { result: matched, changes }
      })
      .then(
        (m) => {
          for (const span of spans) span.end()
          return m
        },
        (err: unknown) => {
          for (const span of spans) span.end(err)
          throw err
        },
      )
    if (multipartRefs.length > 0) await finishMultipart(multipartRefs)
    return new Set(matched.keys())
  }

  const statusChange = (
    ref: MatchedRef,
    carrier: string,
    r: Receipt,
    status: MessageStatus,
  ): StatusChange => ({
    messageId: ref.message_id,
    createdAt: new Date(ref.message_created_at).toISOString(),
    status,
    detail: { carrier, error_code: r.errorCode ?? null, done_at: r.doneAt?.toISOString() ?? null },
  })

  // Read after the parts' update committed: of two parts' receipts racing, the later one sees both.
  async function finishMultipart(refs: PartReceipt[]): Promise<void> {
    const ids = [...new Set(refs.map((m) => m.ref.message_id))]
    const { rows: parts } = await opts.db.query<{ message_id: string; receipt_status: string | null }>(
      'SELECT message_id, receipt_status FROM carrier_refs WHERE message_id = ANY($1::uuid[])',
      [ids],
    )
    const partsOf = new Map<string, (string | null)[]>()
    for (const p of parts) partsOf.set(p.message_id, [...(partsOf.get(p.message_id) ?? []), p.receipt_status])
    const writes: Promise<void>[] = []
    for (const { ref, carrier, receipt, span } of refs) {
      const status = messageStatusFromParts(partsOf.get(ref.message_id) ?? [], Number(ref.parts))
      if (!status) {
        span.end()
        continue
      }
      writes.push(span.around(opts.statuses.write(statusChange(ref, carrier, receipt, status))))
      opts.onMatched?.(status)
    }
    await Promise.all(writes)
  }

  /**
   * Applies the parked receipts whose carrier ids are now recorded (among `keys`, or the oldest
   * of all) and unparks them. Applying twice is harmless: the part status is set again to the
   * same value and a status never moves backwards, so a race between two re-matchers costs nothing.
   */
  async function rematch(keys?: { carrier: string; carrierId: string }[]): Promise<number> {
    if (keys?.length === 0) return 0
    const found = await matchableParked(opts.db, keys)
    if (found.length === 0) return 0
    const matched = await match(found)
    const applied = found.filter((p) => matched.has(keyOf(p.carrier, p.receipt.carrierId)))
    await unparkReceipts(opts.db, applied)
    if (applied.length > 0) opts.onRematched?.(applied.length)
    return applied.length
  }

  // Receipts arriving together are matched together; the unmatched ones of a group are parked in
  // one statement, then looked up once more: a carrier id recorded while we parked (the submit's
  // mark committing between our UPDATE and our INSERT) is seen either here or by the worker's
  // rematch after its mark, because each side looks only after its own write committed.
  const matcher = createGroupCommitter<ParkedReceipt, undefined>({
    maxBatch: 500,
    concurrency: 2,
    run: async (items) => {
      const matched = await match(items)
      const unmatched = items.filter((i) => !matched.has(keyOf(i.carrier, i.receipt.carrierId)))
      if (unmatched.length > 0) {
        await parkReceipts(opts.db, unmatched)
        for (const u of unmatched) opts.onUnmatched?.(u.carrier, u.receipt)
        await rematch(unmatched.map((u) => ({ carrier: u.carrier, carrierId: u.receipt.carrierId })))
      }
      return items.map(() => undefined)
    },
  })

  return {
    /**
     * Resolves once the receipt is recorded — applied to its message, or parked when it matches
     * none yet — so the carrier is acknowledged only then; rejects on a database error (the
     * carrier redelivers).
     */
    async handle(carrier: string, r: Receipt): Promise<void> {
      try {
        let recording = opts.pendingRefs?.settled(carrier, r.carrierId)
        // A receipt read in the same chunk as its submit response comes before the worker has
        // seen that response: one turn of the event loop lets it.
        if (!recording && opts.pendingRefs) {
          await new Promise((resolve) => setImmediate(resolve))
          recording = opts.pendingRefs.settled(carrier, r.carrierId)
        }
        if (recording) await recording
        await matcher.submit({ carrier, receipt: r })
      } catch (err) {
        opts.onError?.(err)
        throw err
      }
    },
    /** Carrier ids just recorded (submits): applies receipts that arrived before them. Never rejects. */
    async recorded(refs: { carrier: string; carrierId: string }[]): Promise<void> {
      await rematch(refs).catch((err: unknown) => opts.onError?.(err))
    },
    /** The periodic safety net: parked receipts whose ids were recorded (a rematch that failed, a crash). */
    async sweep(): Promise<number> {
      return rematch().catch((err: unknown) => {
        opts.onError?.(err)
        return 0
      })
    },
    async inbound(carrier: string, m: InboundMessage): Promise<void> {
      await opts.db.query(
        `INSERT INTO inbound_messages (id, carrier, from_number, to_number, body, received_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [newId(), carrier, m.from, m.to, m.body.replaceAll('\u0000', ''), m.receivedAt.toISOString()],
      )
    },
  }
}
