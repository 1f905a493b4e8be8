import type { SmppModule, TextCodec } from './smpp-types.ts'

/**
 * GSM 03.38 (the default alphabet, one septet per octet) encoded with the smpp library's own
 * tables, looked up once. The library's `encodings.ASCII.encode` builds a RegExp and lists its
 * table's keys on every call: about 2 % of a single process's time in the vs-kannel profile (each
 * message encodes its submit and re-encodes its receipt). Decoding stays the library's. A
 * character outside the alphabet becomes a space (the library's intent; it writes 0x00 instead):
 * the API only chooses GSM-7 for text that is all inside it.
 */
export function createGsmCodec(smpp: SmppModule): TextCodec {
  const tables = smpp.gsmCoder.getCoder(0x00)
  const ext = tables.extCharsEnc ?? tables.extChars ?? ''
  const extChar = new RegExp(`[${ext.replace(']', '\\]')}]`, 'g')
  const escaped = (c: string) => `\x1B${tables.extCharListEnc[c]}`
  return {
    encode(text) {
      const s = text.replace(extChar, escaped)
      const out = Buffer.allocUnsafe(s.length)
      for (let i = 0; i < s.length; i++) out[i] = tables.charListEnc[s[i] as string] ?? 0x20
      return out
    },
    decode: (octets) => smpp.encodings.ASCII.decode(octets),
  }
}
