// SMPP delivery receipts (SMPP 3.4 Appendix B): the de-facto text format carried in a deliver_sm
// short_message, plus the receipted_message_id / message_state TLVs that newer SMSCs add. Pure.

import type { Receipt, ReceiptStatus } from '../carrier.ts'

export interface ReceiptFields {
  id?: string
  sub?: string
  dlvrd?: string
  submitDate?: string
  doneDate?: string
  stat?: string
  err?: string
  text?: string
}

// `text:` is last and free-form, so it swallows the rest of the string.
const KEY_RE = /(?:^|\s)(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:/gi

const FIELD_OF: Record<string, keyof ReceiptFields> = {
  id: 'id',
  sub: 'sub',
  dlvrd: 'dlvrd',
  'submit date': 'submitDate',
  'done date': 'doneDate',
  stat: 'stat',
  err: 'err',
  text: 'text',
}

/** Splits `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` into fields (keys case-insensitive, any order). */
export function parseReceiptText(text: string): ReceiptFields {
  const marks: Array<{ field: keyof ReceiptFields; start: number; valueStart: number }> = []
  for (const m of text.matchAll(KEY_RE)) {
    const key = m[1]!.toLowerCase().replace(/\s+/g, ' ')
    const field = FIELD_OF[key]
    if (!field || marks.some((x) => x.field === 'text')) continue
    marks.push({ field, start: m.index, valueStart: m.index + m[0].length })
  }
  const out: ReceiptFields = {}
  marks.forEach((mark, i) => {
    const end = mark.field === 'text' ? text.length : (marks[i + 1]?.start ?? text.length)
    const value = text.slice(mark.valueStart, end).trim()
    if (out[mark.field] === undefined) out[mark.field] = value
  })
  return out
}

const STAT: Record<string, ReceiptStatus> = {
  DELIVRD: 'delivered',
  DELIVERED: 'delivered',
  UNDELIV: 'undelivered',
  UNDELIVERABLE: 'undelivered',
  // The SMSC deleted the message (cancel or admin action): it never reached the handset.
  DELETED: 'undelivered',
  SKIPPED: 'undelivered',
  EXPIRED: 'expired',
  REJECTD: 'rejected',
  REJECTED: 'rejected',
  UNKNOWN: 'unknown',
  ACCEPTD: 'accepted',
  ACCEPTED: 'accepted',
  ENROUTE: 'accepted',
}

export function statusFromStat(stat: string): ReceiptStatus {
  return STAT[stat.trim().toUpperCase()] ?? 'unknown'
}

// SMPP 3.4 §5.2.28 message_state values.
const MESSAGE_STATE: ReadonlyArray<ReceiptStatus | undefined> = [
  'accepted', // 0 SCHEDULED
  'accepted', // 1 ENROUTE
  'delivered', // 2 DELIVERED
  'expired', // 3 EXPIRED
  'undelivered', // 4 DELETED
  'undelivered', // 5 UNDELIVERABLE
  'accepted', // 6 ACCEPTED
  'unknown', // 7 UNKNOWN
  'rejected', // 8 REJECTED
  'undelivered', // 9 SKIPPED
]

export function statusFromMessageState(state: number): ReceiptStatus {
  return MESSAGE_STATE[state] ?? 'unknown'
}

/**
 * Parses `YYMMDDhhmm` or `YYMMDDhhmmss`. SMSCs write their local time without a zone; we read it as
 * UTC, which is what every carrier we target (and the simulator) sends.
 */
export function parseReceiptDate(s: string): Date | undefined {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?$/.exec(s.trim())
  if (!m) return undefined
  const [, yy, mo, dd, hh, mi, ss] = m
  const d = new Date(
    Date.UTC(2000 + Number(yy), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss ?? 0)),
  )
  // Date.UTC rolls 31 Feb into March; a receipt with an impossible date gets no date rather than a wrong one.
  return d.getUTCMonth() === Number(mo) - 1 && d.getUTCDate() === Number(dd) ? d : undefined
}

export function formatReceiptDate(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return (
    two(d.getUTCFullYear() % 100) +
    two(d.getUTCMonth() + 1) +
    two(d.getUTCDate()) +
    two(d.getUTCHours()) +
    two(d.getUTCMinutes()) +
    two(d.getUTCSeconds())
  )
}

export interface DeliverSmReceipt {
  /** The receipt text from short_message or message_payload, as raw ASCII. */
  text?: string
  receiptedMessageId?: string
  messageState?: number
}

/**
 * Builds a Receipt from a receipt deliver_sm. The TLVs, when present, win over the text: they are
 * the structured form of the same facts and survive SMSCs that mangle the text. Returns null when
 * neither names the message the receipt is about.
 */
export function receiptFromDeliverSm(input: DeliverSmReceipt): Receipt | null {
  const fields = input.text === undefined ? {} : parseReceiptText(input.text)
  const carrierId = input.receiptedMessageId?.trim() || fields.id
  if (!carrierId) return null
  let status: ReceiptStatus = 'unknown'
  if (input.messageState !== undefined) status = statusFromMessageState(input.messageState)
  else if (fields.stat !== undefined) status = statusFromStat(fields.stat)
  const receipt: Receipt = { carrierId, status }
  if (fields.err !== undefined && !/^0*$/.test(fields.err)) receipt.errorCode = fields.err
  const doneAt = fields.doneDate === undefined ? undefined : parseReceiptDate(fields.doneDate)
  if (doneAt) receipt.doneAt = doneAt
  if (input.text !== undefined) receipt.raw = input.text
  return receipt
}

export interface ReceiptTextInput {
  id: string
  stat: string
  err: string
  submitDate: Date
  doneDate: Date
  delivered: boolean
  text?: string
}

/** The standard receipt text; used by the simulator, and the inverse of parseReceiptText. */
export function formatReceiptText(r: ReceiptTextInput): string {
  return (
    `id:${r.id} sub:001 dlvrd:${r.delivered ? '001' : '000'} ` +
    `submit date:${formatReceiptDate(r.submitDate).slice(0, 10)} done date:${formatReceiptDate(r.doneDate).slice(0, 10)} ` +
    `stat:${r.stat} err:${r.err} text:${(r.text ?? '').slice(0, 20)}`
  )
}
