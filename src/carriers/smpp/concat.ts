// Concatenated SMS (3GPP TS 23.040 §9.2.3.24.1/.8 and SMPP 3.4 §5.3.2.22-24): which part of which
// message a PDU carries, from its UDH (IE 0x00: 8-bit reference, 0x08: 16-bit) or its SAR TLVs.

import type { Pdu } from './smpp-types.ts'

export interface ConcatPart {
  ref: number
  total: number
  seq: number
}

/** Concatenation info from the UDH (IE 0x00 or 0x08) or the SAR TLVs; undefined when not concatenated. */
export function concatInfo(pdu: Pdu): ConcatPart | undefined {
  const sm = pdu.short_message
  if (sm && !Buffer.isBuffer(sm)) {
    for (const ie of sm.udh ?? []) {
      if (ie[0] === 0x00 && ie.length >= 5) return { ref: ie[2]!, total: ie[3]!, seq: ie[4]! }
      if (ie[0] === 0x08 && ie.length >= 6) return { ref: ie.readUInt16BE(2), total: ie[4]!, seq: ie[5]! }
    }
  }
  if (typeof pdu.sar_segment_seqnum === 'number') {
    return { ref: pdu.sar_msg_ref_num ?? 0, total: pdu.sar_total_segments ?? 0, seq: pdu.sar_segment_seqnum }
  }
  return undefined
}
