// Reading submit_sm and writing deliver_sm on the simulator's side. Pure given the library codecs.

import { createHash } from 'node:crypto'
import { analyzeBody } from '../../domain/segments.ts'
import { formatReceiptText } from '../smpp/receipt.ts'
import type { Pdu, PduFields, SmppModule } from '../smpp/smpp-types.ts'
import { toAddress } from '../smpp/submit-pdus.ts'
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

/** An MO deliver_sm; a body longer than one segment travels whole in message_payload. */
export function inboundDeliverSm(smpp: SmppModule, m: { from: string; to: string; body: string }): PduFields {
  const { encoding, segments } = analyzeBody(m.body)
  const payload =
    encoding === 'GSM-7' ? smpp.encodings.ASCII.encode(m.body) : smpp.encodings.UCS2.encode(m.body)
  const from = toAddress(m.from)
  const to = toAddress(m.to)
  return {
    source_addr_ton: from.ton,
    source_addr_npi: from.npi,
    source_addr: from.addr,
    dest_addr_ton: to.ton,
    dest_addr_npi: to.npi,
    destination_addr: to.addr,
    esm_class: 0,
    data_coding: encoding === 'GSM-7' ? 0x00 : 0x08,
    ...(segments <= 1 ? { short_message: payload } : { message_payload: payload }),
  }
}
