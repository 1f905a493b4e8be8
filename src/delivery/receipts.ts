import type { InboundMessage, Receipt } from '../carriers/carrier.ts'
import type { Db } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import type { MessageStatus } from '../domain/status.ts'
import {
  type AppliedChange,
  type StatusChange,
  type StatusWriter,
  statusRankSql,
} from '../events/status-writer.ts'
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

/** A part the match statement updated, and what it did to a single-part message. */
interface MatchedRow extends MatchedRef {
  /** The message moved to the receipt's status (and its event was appended) in the statement. */
  applied: boolean
  /** A single-part message the statement left to the status writer (in a batch, or outside RECENT_MS). */
  deferred: boolean
  priority: string
}

/** Messages the match statement reads: accepted at most this long ago (the partitions it plans). */
const RECENT_MS = 3 * 86_400_000
/** A message's created_at may be this far ahead of this process's clock (another process's clock). */
const CLOCK_SLACK_MS = 3_600_000

const detailOf = (carrier: string, r: Receipt) => ({
  carrier,
  error_code: r.errorCode ?? null,
  done_at: r.doneAt?.toISOString() ?? null,
})

// $1-$3: each receipt's carrier, carrier id and part status; $4: the message status it makes of a
// single-part message (null for an intermediate 'accepted'); $5: its event detail; $6-$7: the
// created_at range of messages read (constants, so the plan reads only those days' partitions);
// $8: the time of the change.
const MATCH_SQL = `
WITH x AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
    AS x(carrier, carrier_id, status, final, detail)
), r AS (
  -- An intermediate 'accepted' never overwrites a final part status (a parked one can arrive late).
  UPDATE carrier_refs c
     SET receipt_status = CASE WHEN x.status = 'accepted' AND c.receipt_status IS NOT NULL
                               THEN c.receipt_status ELSE x.status END
    FROM x
   WHERE c.carrier = x.carrier AND c.carrier_id = x.carrier_id
  RETURNING c.carrier, c.carrier_id, c.message_id, c.message_created_at, c.parts, c.created_at,
            c.trace_parent, x.final, x.detail
), l AS (
  SELECT m.id, m.created_at, m.status, m.customer_id, m.priority, m.batch_id, r.final, r.detail
    FROM messages m JOIN r ON m.id = r.message_id AND m.created_at = r.message_created_at
   WHERE r.parts = 1 AND r.final IS NOT NULL AND m.created_at BETWEEN $6 AND $7
   ORDER BY m.id FOR UPDATE OF m
), u AS (
  UPDATE messages m SET status = l.final, status_updated_at = $8
    FROM l
   WHERE m.id = l.id AND m.created_at = l.created_at AND m.created_at BETWEEN $6 AND $7
     AND l.batch_id IS NULL AND ${statusRankSql('l.status')} < ${statusRankSql('l.final')}
  RETURNING m.id, l.customer_id, l.final, l.detail
), e AS (
  INSERT INTO message_events (message_id, customer_id, status, detail, created_at)
  SELECT id, customer_id, final, detail, $8 FROM u
)
SELECT r.carrier, r.carrier_id, r.message_id, r.message_created_at, r.parts, r.created_at, r.trace_parent,
       u.id IS NOT NULL AS applied,
       r.parts = 1 AND r.final IS NOT NULL AND (l.id IS NULL OR l.batch_id IS NOT NULL) AS deferred,
       l.priority
  FROM r LEFT JOIN l ON l.id = r.message_id LEFT JOIN u ON u.id = r.message_id`

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

  // ONE statement over a group of receipts (issue 12): it updates their parts and, for every
  // single-part message among them that is in no batch, moves the status forward and appends its
  // event — autocommitted, durable before the carrier hears back, with no transaction around it.
  // Messages are locked in id order (like every status writer) before they move, and a move only
  // goes forward against the locked row. The rest goes through the status writer after this commit:
  // a message in a batch (its count is settled with the status), one outside the partitions the
  // statement reads, and multipart messages, decided by reading all their parts (of two parts'
  // receipts racing, the later commit sees both). Returns the keys that matched.
  async function match(items: ParkedReceipt[]): Promise<Set<string>> {
    // Sorted, so concurrent groups lock the parts in one order.
    const unique = [...new Map(items.map((i) => [keyOf(i.carrier, i.receipt.carrierId), i]))]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, i]) => i)
    // The status each receipt makes of a single-part message, worked out once for the statement and the metrics.
    const finals = unique.map((i) => messageStatusFromParts([i.receipt.status], 1))
    const at = Date.now()
    const { rows } = await opts.db.query<MatchedRow>(
      MATCH_SQL,
      [
        unique.map((i) => i.carrier),
        unique.map((i) => i.receipt.carrierId),
        unique.map((i) => i.receipt.status),
        finals.map((f) => f ?? null),
        unique.map((i) => JSON.stringify(detailOf(i.carrier, i.receipt))),
        new Date(at - RECENT_MS).toISOString(),
        new Date(at + CLOCK_SLACK_MS).toISOString(),
        new Date(at).toISOString(),
      ],
      { name: 'receipt_match' },
    )
    const matched = new Map(rows.map((r) => [keyOf(r.carrier, r.carrier_id), r]))
    const later: PartReceipt[] = []
    const applied: AppliedChange[] = []
    for (const [n, { carrier, receipt: r }] of unique.entries()) {
      const ref = matched.get(keyOf(carrier, r.carrierId))
      if (!ref) continue
      opts.onCarrierReceipt?.(carrier)
      opts.onReceiptLatency?.((Date.now() - new Date(ref.created_at).getTime()) / 1000)
      const span = tracing.receiptMatched(ref.message_id, carrier, r.status, ref.trace_parent)
      if (ref.applied) {
        const status = finals[n] as MessageStatus
        applied.push({
          status,
          priority: ref.priority,
          createdAt: new Date(ref.message_created_at).toISOString(),
        })
        opts.onMatched?.(status)
        span.end()
      } else if (Number(ref.parts) > 1 || ref.deferred) later.push({ ref, carrier, receipt: r, span })
      else span.end()
    }
    if (applied.length > 0) opts.statuses.committed(applied)
    if (later.length > 0) await finishLater(later)
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
    detail: detailOf(carrier, r),
  })

  // Multipart messages' parts are read after the parts' update committed: of two parts' receipts
  // racing, the later one sees both.
  async function finishLater(refs: PartReceipt[]): Promise<void> {
    const ids = [...new Set(refs.filter((m) => Number(m.ref.parts) > 1).map((m) => m.ref.message_id))]
    const { rows: parts } =
      ids.length === 0
        ? { rows: [] }
        : await opts.db.query<{ message_id: string; receipt_status: string | null }>(
            'SELECT message_id, receipt_status FROM carrier_refs WHERE message_id = ANY($1::uuid[])',
            [ids],
          )
    const partsOf = new Map<string, (string | null)[]>()
    for (const p of parts) partsOf.set(p.message_id, [...(partsOf.get(p.message_id) ?? []), p.receipt_status])
    const writes: Promise<void>[] = []
    for (const { ref, carrier, receipt, span } of refs) {
      const status =
        Number(ref.parts) > 1
          ? messageStatusFromParts(partsOf.get(ref.message_id) ?? [], Number(ref.parts))
          : messageStatusFromParts([receipt.status], 1)
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
