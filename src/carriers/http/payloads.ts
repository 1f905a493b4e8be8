// JSON shapes exchanged with generic HTTP carriers, parsed at the boundary. Pure.
//   submit response: {"carrier_ids":["…"]} or {"carrier_id":"…"}
//   receipt (POST /v1/providers/{provider}/dlr): {"carrier_id","status","error_code"?,"done_at"?}
//   inbound (POST /v1/providers/{provider}/inbound): {"from","to","body","received_at"?}

import type { InboundMessage, Receipt, ReceiptStatus } from '../carrier.ts'
import { CarrierPayloadError } from '../errors.ts'
import { statusFromStat } from '../smpp/receipt.ts'

function asObject(json: unknown): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CarrierPayloadError('(body)', 'expected a JSON object')
  }
  return json as Record<string, unknown>
}

function idString(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim() !== '' && v.length <= 128) return v.trim()
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v)
  return undefined
}

/** Carrier ids from a 2xx submit response, or undefined when the body names none. */
export function parseSubmitResponse(json: unknown): string[] | undefined {
  if (typeof json !== 'object' || json === null) return undefined
  const o = json as Record<string, unknown>
  if (Array.isArray(o['carrier_ids'])) {
    const ids = o['carrier_ids'].map(idString)
    if (ids.length > 0 && ids.every((id) => id !== undefined)) return ids as string[]
    return undefined
  }
  const one = idString(o['carrier_id'])
  return one === undefined ? undefined : [one]
}

const RECEIPT_STATUSES: ReadonlySet<string> = new Set<ReceiptStatus>([
  'delivered',
  'undelivered',
  'expired',
  'rejected',
  'unknown',
  'accepted',
])

// Words HTTP carriers commonly use besides ours; SMPP `stat` values are accepted too.
const ALIASES: Record<string, ReceiptStatus> = {
  failed: 'undelivered',
  undeliverable: 'undelivered',
  sent: 'accepted',
  queued: 'accepted',
  enroute: 'accepted',
}

function receiptStatus(v: unknown): ReceiptStatus {
  if (typeof v !== 'string' || v.trim() === '')
    throw new CarrierPayloadError('status', 'must be a non-empty string')
  const s = v.trim().toLowerCase()
  if (RECEIPT_STATUSES.has(s)) return s as ReceiptStatus
  const alias = ALIASES[s]
  if (alias) return alias
  const smpp = statusFromStat(s)
  if (smpp !== 'unknown' || s === 'unknown') return smpp
  throw new CarrierPayloadError('status', `unknown status ${JSON.stringify(v).slice(0, 40)}`)
}

/** ISO 8601 string, or unix seconds / milliseconds. */
function timestamp(v: unknown, param: string): Date {
  let d: Date | undefined
  if (typeof v === 'string' && v.trim() !== '') d = new Date(v)
  else if (typeof v === 'number' && Number.isFinite(v)) d = new Date(v < 1e11 ? v * 1000 : v)
  if (!d || Number.isNaN(d.getTime()))
    throw new CarrierPayloadError(param, 'must be an ISO 8601 time or unix time')
  return d
}

export function parseHttpReceipt(json: unknown): Receipt {
  const o = asObject(json)
  const carrierId = idString(o['carrier_id'])
  if (carrierId === undefined) throw new CarrierPayloadError('carrier_id', 'must be a non-empty string')
  const receipt: Receipt = { carrierId, status: receiptStatus(o['status']) }
  const err = o['error_code']
  if (err !== undefined && err !== null && err !== '') {
    if (typeof err !== 'string' && typeof err !== 'number') {
      throw new CarrierPayloadError('error_code', 'must be a string or a number')
    }
    receipt.errorCode = String(err)
  }
  if (o['done_at'] !== undefined && o['done_at'] !== null) receipt.doneAt = timestamp(o['done_at'], 'done_at')
  receipt.raw = JSON.stringify(json)
  return receipt
}

// A handset's number, with or without `+` (carriers differ); our number may also be a short code.
const MSISDN_RE = /^\+?([1-9][0-9]{6,14})$/
const SHORT_CODE_RE = /^[0-9]{3,8}$/
/** Longest MO body we keep, in UTF-16 units (a reassembled 10-part UCS-2 message is 670). */
const MAX_INBOUND_BODY = 1600

function msisdn(v: string, param: string, shortCodeOk: boolean): string {
  const s = v.trim()
  if (shortCodeOk && SHORT_CODE_RE.test(s)) return s
  const m = MSISDN_RE.exec(s)
  if (!m) {
    throw new CarrierPayloadError(
      param,
      shortCodeOk ? 'must be an E.164 number or a 3–8 digit short code' : 'must be an E.164 number',
    )
  }
  return `+${m[1]}`
}

export function parseHttpInbound(json: unknown, now: Date = new Date()): InboundMessage {
  const o = asObject(json)
  const field = (key: string, allowEmpty: boolean): string => {
    const v = o[key]
    if (typeof v !== 'string' || (!allowEmpty && v.trim() === '')) {
      throw new CarrierPayloadError(key, allowEmpty ? 'must be a string' : 'must be a non-empty string')
    }
    return v
  }
  const body = field('body', true)
  if (body.length > MAX_INBOUND_BODY)
    throw new CarrierPayloadError('body', `must be at most ${MAX_INBOUND_BODY} characters`)
  const received = o['received_at']
  return {
    from: msisdn(field('from', false), 'from', false),
    to: msisdn(field('to', false), 'to', true),
    body,
    receivedAt: received === undefined || received === null ? now : timestamp(received, 'received_at'),
  }
}
