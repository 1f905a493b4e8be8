// The GSM 03.38 codec on the library's tables encodes exactly as the library for every character
// of the alphabet and its extension table, and decodes back to the same text.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createGsmCodec } from '../../../src/carriers/smpp/gsm-codec.ts'
import { loadSmpp } from '../../../src/carriers/smpp/smpp-types.ts'

const smpp = loadSmpp()
const codec = createGsmCodec(smpp)
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
const EXTENSION = '\f^{}\\[~]|€'

describe('GSM 03.38 codec', () => {
  it('encodes every basic and extension character as the library does', () => {
    for (const text of [
      BASIC,
      EXTENSION,
      `Code {1234} € [ok] ~${BASIC}${EXTENSION}`,
      '',
      'id:1 sub:001 stat:DELIVRD',
    ]) {
      assert.deepEqual(codec.encode(text), smpp.encodings.ASCII.encode(text), text)
      assert.equal(codec.decode(codec.encode(text)), text)
    }
  })

  it('turns a character outside the alphabet into a space', () => {
    assert.equal(codec.encode('a✓b').toString('latin1'), 'a b')
  })
})
