// Incoming deliver_sm: a delivery receipt or an MO message, told apart by esm_class.

import type { InboundMessage, Receipt } from '../carrier.ts'
import { SmppStatus } from '../errors.ts'
import type { Listeners } from '../listeners.ts'
import { concatInfo } from './concat.ts'
import { receiptFromDeliverSm } from './receipt.ts'
import type { DecodedMessage, Pdu, TextCodec } from './smpp-types.ts'
import { fromAddress } from './submit-pdus.ts'

// esm_class message type bits 2–5: 0x04 = SMSC delivery receipt, 0x20 = intermediate notification.
const RECEIPT_ESM_BITS = 0x04 | 0x20

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

/** Text of an MO message (UDH stripped), decoded by data_coding (GSM 03.38, Latin-1 or UCS-2 by the library). */
export function inboundText(pdu: Pdu): string {
  const v = pick(pdu)
  if (v === undefined) return ''
  return Buffer.isBuffer(v) ? v.toString('latin1') : v
}

export interface DeliverSmSinks {
  gsm: TextCodec
  receipts: Listeners<Receipt>
  inbound: Listeners<InboundMessage>
  onUnreadableReceipt(raw: string): void
  onListenerFailed(error: unknown): void
}

/** Hands a deliver_sm to the listeners; returns the command_status for its deliver_sm_resp. */
export async function handleDeliverSm(pdu: Pdu, sinks: DeliverSmSinks): Promise<number> {
  try {
    if ((pdu.esm_class ?? 0) & RECEIPT_ESM_BITS) {
      const text = receiptText(pdu, sinks.gsm)
      const receipt = receiptFromDeliverSm({
        ...(text === undefined ? {} : { text }),
        ...(typeof pdu.receipted_message_id === 'string'
          ? { receiptedMessageId: pdu.receipted_message_id }
          : {}),
        ...(typeof pdu.message_state === 'number' ? { messageState: pdu.message_state } : {}),
      })
      // Acknowledged anyway: an SMSC would redeliver an unreadable receipt forever.
      if (receipt) await sinks.receipts.emit(receipt)
      else sinks.onUnreadableReceipt(text ?? '')
    } else {
      const part = concatInfo(pdu)
      await sinks.inbound.emit({
        from: fromAddress(pdu.source_addr ?? '', pdu.source_addr_ton),
        to: fromAddress(pdu.destination_addr ?? '', pdu.dest_addr_ton),
        body: inboundText(pdu),
        receivedAt: new Date(),
        // A "concatenated" message of one part is just a message.
        ...(part && part.total > 1 && part.seq >= 1 && part.seq <= part.total ? { part } : {}),
      })
    }
    return SmppStatus.ESME_ROK
  } catch (error) {
    // Nobody recorded it: a temporary error makes the SMSC redeliver instead of losing it.
    sinks.onListenerFailed(error)
    return SmppStatus.ESME_RX_T_APPN
  }
}
