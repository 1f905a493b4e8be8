// Confirmation and help replies to compliance keywords: ordinary billed messages from the number
// that received the keyword, accepted through the same group-commit path as any send.

import type { AcceptOutcome } from '../billing/types.ts'
import { DEFAULT_REPLIES, type KeywordAction } from '../compliance/keywords.ts'
import type { Queryable } from '../db/db.ts'
import { newId, uuidV7Time } from '../domain/ids.ts'
import type { NewMessage } from '../domain/message.ts'
import { multiplyMicros } from '../domain/money.ts'
import { parseRecipient } from '../domain/phone.ts'
import { analyzeBody } from '../domain/segments.ts'

export interface ReplyDeps {
  db: Queryable
  /** Price per segment for a destination country, micro-units; undefined when not served. */
  priceFor(country: string): Promise<number | undefined>
  /** The biller's accept (charges and records the message). */
  accept(m: NewMessage): Promise<AcceptOutcome>
}

export interface KeywordReplies {
  opt_out: string | null
  opt_in: string | null
  help: string | null
}

const COLUMN: Record<KeywordAction, keyof KeywordReplies> = {
  opt_out: 'opt_out',
  opt_in: 'opt_in',
  help: 'help',
}

export async function readKeywordReplies(q: Queryable, customerId: string): Promise<KeywordReplies> {
  const { rows } = await q.query<KeywordReplies>(
    'SELECT opt_out, opt_in, help FROM keyword_replies WHERE customer_id = $1',
    [customerId],
  )
  return rows[0] ?? { opt_out: null, opt_in: null, help: null }
}

/** Sets the customer's replies: a string replaces, null restores the default, '' turns the reply off. */
export async function writeKeywordReplies(
  q: Queryable,
  customerId: string,
  r: KeywordReplies,
): Promise<void> {
  await q.query(
    `INSERT INTO keyword_replies (customer_id, opt_out, opt_in, help) VALUES ($1, $2, $3, $4)
     ON CONFLICT (customer_id) DO UPDATE SET opt_out = $2, opt_in = $3, help = $4, updated_at = now()`,
    [customerId, r.opt_out, r.opt_in, r.help],
  )
}

/** The text configured (or the default); null when the customer turned this reply off. */
export const replyText = (r: KeywordReplies, action: KeywordAction): string | null => {
  const v = r[COLUMN[action]]
  if (v === null) return DEFAULT_REPLIES[action]
  return v === '' ? null : v
}

export type ReplyOutcome =
  | { kind: 'sent'; messageId: string }
  | {
      kind: 'skipped'
      reason: 'disabled' | 'unreachable_sender' | 'no_rate' | 'insufficient_balance' | 'refused'
    }

/** Sends the reply to `action` from `number` (which received it) to `to`. */
export async function sendKeywordReply(
  deps: ReplyDeps,
  r: { customerId: string; action: KeywordAction; number: string; to: string },
): Promise<ReplyOutcome> {
  const { rows } = await deps.db.query<KeywordReplies & { currency: string }>(
    `SELECT c.currency, k.opt_out, k.opt_in, k.help
       FROM customers c LEFT JOIN keyword_replies k ON k.customer_id = c.id WHERE c.id = $1`,
    [r.customerId],
  )
  const row = rows[0]
  if (!row) return { kind: 'skipped', reason: 'refused' }
  const body = replyText(row, r.action)
  if (body === null) return { kind: 'skipped', reason: 'disabled' }
  const to = parseRecipient(r.to)
  if (!to.ok) return { kind: 'skipped', reason: 'unreachable_sender' }
  const rate = await deps.priceFor(to.country)
  if (rate === undefined) return { kind: 'skipped', reason: 'no_rate' }
  const info = analyzeBody(body)
  const id = newId()
  const createdAt = new Date(uuidV7Time(id) ?? Date.now())
  const outcome = await deps.accept({
    id,
    createdAt,
    customerId: r.customerId,
    apiKeyId: null,
    to: to.e164,
    from: r.number,
    body,
    country: to.country,
    encoding: info.encoding,
    segments: info.segments,
    priceMicros: multiplyMicros(rate, info.segments),
    currency: row.currency,
    // A confirmation is answered at once, like an OTP: it must not wait behind the customer's bulk.
    priority: 'high',
    clientReference: `keyword-reply:${r.action}`,
    statusCallbackUrl: null,
    metadata: null,
    batchId: null,
    expiresAt: new Date(createdAt.getTime() + 3_600_000),
    sendAt: null,
    status: 'queued',
  })
  if (outcome.kind === 'accepted') return { kind: 'sent', messageId: id }
  return {
    kind: 'skipped',
    reason: outcome.kind === 'insufficient_balance' ? 'insufficient_balance' : 'refused',
  }
}
