// Reading submit_sm and writing deliver_sm on the simulator's side. Pure given the library codecs.

import { createHash } from 'node:crypto'
import { analyzeBody } from '../../domain/segments.ts'
import { formatReceiptText } from '../smpp/receipt.ts'
import type { Pdu, PduFields, SmppModule } from '../smpp/smpp-types.ts'
import { concatUdh, ESM_CLASS_UDHI, partsFor, toAddress } from '../smpp/submit-pdus.ts'
import type { Outcome } from './behavior.ts'

const OUTCOME: Record<Outcome, { stat: string; err: string; state: number }> = {
  delivered: { stat: 'DELIVRD', err: '000', state: 2 },
  undelivered: { stat: 'UNDELIV', err: '001', state: 5 },
  expired: { stat: 'EXPIRED', err: '002', state: 3 },
}

/** The submitted text of this part, UDH stripped, as the library decoded it by data_coding. */
export function decodedText(pdu: Pdu): string {
  const sm = pdu.short_message
  if (sm === undefined) return ''
  const m = Buffer.isBuffer(sm) ? sm : sm.message
  return typeof m === 'string' ? m : m.toString('latin1')
}

/** Stands in for our message id when the connector sent no TLV: the part's addresses and text. */
export function fingerprint(pdu: Pdu): string {
  const fp = createHash('sha1')
    .update(`${pdu.destination_addr}|${pdu.source_addr}|${pdu.data_coding}|${decodedText(pdu)}`)
    .digest('hex')
  return `fp:${fp}`
}

/** A receipt deliver_sm for `submit`: standard text (ASCII, data_coding 0) plus the TLVs. */
export function receiptDeliverSm(
  submit: Pdu,
  carrierId: string,
  outcome: Outcome,
  submitted: Date,
): PduFields {
  const o = OUTCOME[outcome]
  const text = formatReceiptText({
    id: carrierId,
    stat: o.stat,
    err: o.err,
    submitDate: submitted,
    doneDate: new Date(),
    delivered: outcome === 'delivered',
    text: decodedText(submit).replace(/[^\x20-\x7e]/g, '.'),
  })
  return {
    source_addr_ton: submit.dest_addr_ton ?? 0,
    source_addr_npi: submit.dest_addr_npi ?? 0,
    source_addr: submit.destination_addr ?? '',
    dest_addr_ton: submit.source_addr_ton ?? 0,
    dest_addr_npi: submit.source_addr_npi ?? 0,
    destination_addr: submit.source_addr ?? '',
    esm_class: 0x04,
    data_coding: 0,
    short_message: Buffer.from(text, 'latin1'),
    receipted_message_id: carrierId,
    message_state: o.state,
  }
}

/** How a long MO travels: whole in message_payload, or in parts with a UDH or with the SAR TLVs. */
export type MoConcat = 'payload' | 'udh' | 'sar'

/**
 * The deliver_sm PDUs of one MO message: one, or one per part when the body is longer than a
 * segment and `concat` is `udh` or `sar` (`ref` numbers the message, as an SMSC would).
 */
export function inboundDeliverSms(
  smpp: SmppModule,
  m: { from: string; to: string; body: string },
  concat: MoConcat = 'payload',
  ref = 0,
): PduFields[] {
  const { encoding } = analyzeBody(m.body)
  const codec = encoding === 'GSM-7' ? smpp.encodings.ASCII : smpp.encodings.UCS2
  const from = toAddress(m.from)
  const to = toAddress(m.to)
  const base: PduFields = {
    source_addr_ton: from.ton,
    source_addr_npi: from.npi,
    source_addr: from.addr,
    dest_addr_ton: to.ton,
    dest_addr_npi: to.npi,
    destination_addr: to.addr,
    esm_class: 0,
    data_coding: encoding === 'GSM-7' ? 0x00 : 0x08,
  }
  const { parts } = partsFor(m.body, encoding)
  if (parts.length <= 1) return [{ ...base, short_message: codec.encode(m.body) }]
  if (concat === 'payload') return [{ ...base, message_payload: codec.encode(m.body) }]
  return parts.map((text, i) =>
    concat === 'udh'
      ? {
          ...base,
          esm_class: ESM_CLASS_UDHI,
          short_message: Buffer.concat([concatUdh(ref, parts.length, i + 1), codec.encode(text)]),
        }
      : {
          ...base,
          short_message: codec.encode(text),
          sar_msg_ref_num: ref & 0xffff,
          sar_total_segments: parts.length,
          sar_segment_seqnum: i + 1,
        },
  )
}
