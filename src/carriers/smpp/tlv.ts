import type { SmppModule } from './smpp-types.ts'

/**
 * Default tag of the vendor-specific TLV (SMPP 3.4 reserves 0x1400–0x3FFF for them) that carries our
 * message id on every submit_sm. The simulator uses it to count duplicate sends; an SMSC that does
 * not know the tag ignores it. See docs/adr/0005-carriers.md.
 */
export const SMSGW_MESSAGE_ID_TLV = 0x1400

export function isVendorTlvTag(tag: number): boolean {
  return Number.isInteger(tag) && tag >= 0x1400 && tag <= 0x3fff
}

/**
 * Registers the message-id TLV with the library so submit_sm can carry it, and returns the field name
 * to use. The library keeps TLV definitions in one shared table, so the name includes the tag: two
 * carriers configured with different tags never overwrite each other. Idempotent.
 */
export function registerMessageIdTlv(smpp: SmppModule, tag: number = SMSGW_MESSAGE_ID_TLV): string {
  if (!isVendorTlvTag(tag)) throw new RangeError(`message id TLV tag must be in 0x1400..0x3fff, got ${tag}`)
  const name = `smsgw_message_id_${tag.toString(16)}`
  if (smpp.tlvs[name]?.id !== tag) smpp.addTLV(name, { id: tag, type: smpp.types.tlv.cstring })
  return name
}

/** Reads the message-id TLV whether or not it was registered in this process (unknown TLVs arrive as raw buffers under their numeric tag). */
export function readMessageIdTlv(
  pdu: Record<string | number, unknown>,
  tag: number = SMSGW_MESSAGE_ID_TLV,
): string | undefined {
  const named = pdu[`smsgw_message_id_${tag.toString(16)}`]
  if (typeof named === 'string' && named !== '') return named
  const raw = pdu[tag]
  if (Buffer.isBuffer(raw)) {
    const end = raw.indexOf(0)
    const id = raw.toString('ascii', 0, end === -1 ? raw.length : end)
    return id === '' ? undefined : id
  }
  return undefined
}
