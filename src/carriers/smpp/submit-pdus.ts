// Turns a SubmitRequest into submit_sm fields, one per part: encoding, UDH concatenation, addresses,
// validity. Pure given the text codecs, so the wire layout is unit-tested without a socket.

import { type Encoding, splitBody } from '../../domain/segments.ts'
import type { SubmitRequest } from '../carrier.ts'
import type { PduFields, TextCodec } from './smpp-types.ts'

export const DATA_CODING = { 'GSM-7': 0x00, 'UCS-2': 0x08 } as const satisfies Record<Encoding, number>
export const ESM_CLASS_UDHI = 0x40
export const IEI_CONCAT_8BIT = 0x00

const UCS2_SINGLE = 70
const UCS2_MULTI = 67
// SMPP 3.4 relative validity has two digits per unit; carriers cap validity far below this anyway.
const MAX_VALIDITY_S = 30 * 86_400

export interface SubmitPduOptions {
  /** 8-bit concatenation reference shared by the parts of this message. */
  concatRef: number
  gsm: TextCodec
  ucs2: TextCodec
  /** Registered TLV name that carries our message id, or undefined to send none. */
  messageIdField?: string
}

export interface Address {
  ton: number
  npi: number
  addr: string
}

/** E.164 → international/ISDN; short digit strings → network-specific short code; anything else → alphanumeric. */
export function toAddress(s: string): Address {
  if (/^\+\d{1,15}$/.test(s)) return { ton: 0x01, npi: 0x01, addr: s.slice(1) }
  if (/^\d{1,8}$/.test(s)) return { ton: 0x03, npi: 0x00, addr: s }
  if (/^\d{9,15}$/.test(s)) return { ton: 0x01, npi: 0x01, addr: s }
  return { ton: 0x05, npi: 0x00, addr: s }
}

/** The inverse for addresses arriving in deliver_sm: international numbers are echoed as E.164. */
export function fromAddress(addr: string, ton: number | undefined): string {
  return ton === 0x01 && /^\d+$/.test(addr) ? `+${addr}` : addr
}

/** SMPP relative time `YYMMDDhhmmss000R`. */
export function relativeValidity(seconds: number): string {
  let s = Math.max(1, Math.min(MAX_VALIDITY_S, Math.floor(seconds)))
  const days = Math.floor(s / 86_400)
  s -= days * 86_400
  const hours = Math.floor(s / 3600)
  s -= hours * 3600
  const minutes = Math.floor(s / 60)
  s -= minutes * 60
  const two = (n: number) => String(n).padStart(2, '0')
  return `0000${two(days)}${two(hours)}${two(minutes)}${two(s)}000R`
}

/** Splits the body into parts for `encoding`, honoring a caller that asked for UCS-2 on a GSM-safe body. */
export function partsFor(body: string, encoding: Encoding): { encoding: Encoding; parts: string[] } {
  const split = splitBody(body)
  if (encoding === 'GSM-7' || split.encoding === 'UCS-2') return split
  // GSM-safe text is all BMP, so fixed-width chunks never cut a surrogate pair.
  const size = body.length <= UCS2_SINGLE ? UCS2_SINGLE : UCS2_MULTI
  const parts: string[] = []
  for (let i = 0; i < body.length; i += size) parts.push(body.slice(i, i + size))
  return { encoding: 'UCS-2', parts }
}

export function concatUdh(ref: number, total: number, seq: number): Buffer {
  return Buffer.from([0x05, IEI_CONCAT_8BIT, 0x03, ref & 0xff, total, seq])
}

export function buildSubmitSms(req: SubmitRequest, opts: SubmitPduOptions): PduFields[] {
  const { encoding, parts } = partsFor(req.body, req.encoding)
  if (parts.length > 255) throw new RangeError(`message has ${parts.length} parts; concatenation allows 255`)
  const codec = encoding === 'GSM-7' ? opts.gsm : opts.ucs2
  const source = toAddress(req.from)
  const dest = toAddress(req.to)
  const multipart = parts.length > 1
  return parts.map((text, i) => {
    const payload = codec.encode(text)
    const fields: PduFields = {
      source_addr_ton: source.ton,
      source_addr_npi: source.npi,
      source_addr: source.addr,
      dest_addr_ton: dest.ton,
      dest_addr_npi: dest.npi,
      destination_addr: dest.addr,
      esm_class: multipart ? ESM_CLASS_UDHI : 0,
      // 1 = a final receipt on success or failure.
      registered_delivery: req.registeredDelivery ? 1 : 0,
      data_coding: DATA_CODING[encoding],
      short_message: multipart
        ? Buffer.concat([concatUdh(opts.concatRef, parts.length, i + 1), payload])
        : payload,
    }
    if (req.validityPeriodS !== undefined) fields.validity_period = relativeValidity(req.validityPeriodS)
    if (opts.messageIdField) fields[opts.messageIdField] = req.messageId
    return fields
  })
}
