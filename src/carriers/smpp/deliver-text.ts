// Text of an incoming deliver_sm, from short_message or (when that is empty) message_payload.

import type { DecodedMessage, Pdu, TextCodec } from './smpp-types.ts'

// data_coding 0 (SMSC default) and 1 (IA5) are both decoded by the library as GSM 03.38.
function isGsmDecoded(dataCoding: number | undefined): boolean {
  const coding = (dataCoding ?? 0) & 0x0f
  return coding === 0x00 || coding === 0x01
}

function content(m: DecodedMessage | undefined): string | Buffer | undefined {
  if (m === undefined) return undefined
  const v = Buffer.isBuffer(m) ? m : m.message
  return v.length > 0 ? v : undefined
}

function pick(pdu: Pdu): string | Buffer | undefined {
  return content(pdu.short_message) ?? content(pdu.message_payload)
}

/**
 * Receipt text as the raw ASCII the SMSC wrote. The library has already decoded data_coding 0 as
 * GSM 03.38, which turns ASCII `_` into `§` and so on; encoding it back yields the original octets,
 * since the GSM table maps every octet below 0x80 one-to-one.
 */
export function receiptText(pdu: Pdu, gsm: TextCodec): string | undefined {
  const v = pick(pdu)
  if (v === undefined) return undefined
  if (Buffer.isBuffer(v)) return v.toString('latin1')
  return isGsmDecoded(pdu.data_coding) ? gsm.encode(v).toString('latin1') : v
}

/** Text of an MO message, decoded by data_coding (GSM 03.38, Latin-1 or UCS-2 by the library). */
export function inboundText(pdu: Pdu): string {
  const v = pick(pdu)
  if (v === undefined) return ''
  return Buffer.isBuffer(v) ? v.toString('latin1') : v
}
