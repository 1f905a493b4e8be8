// Pure: submit_sm layout (encoding, UDH, addresses, validity) without a socket.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SubmitRequest } from '../../../src/carriers/carrier.ts'
import { loadSmpp } from '../../../src/carriers/smpp/smpp-types.ts'
import {
  buildSubmitSms,
  fromAddress,
  partsFor,
  relativeValidity,
  toAddress,
} from '../../../src/carriers/smpp/submit-pdus.ts'
import { submitRequest } from '../../helpers/submit-request.ts'

const smpp = loadSmpp()
const codecs = { gsm: smpp.encodings.ASCII, ucs2: smpp.encodings.UCS2 }

const MESSAGE_ID = '0190a3c4-0000-7000-8000-000000000001'
const req = (body: string, extra: Partial<SubmitRequest> = {}) =>
  submitRequest(body, { messageId: MESSAGE_ID, ...extra })

function bytes(v: unknown): Buffer {
  assert.ok(Buffer.isBuffer(v))
  return v
}

describe('buildSubmitSms', () => {
  it('single GSM-7 part: data_coding 0, no UDH, unpacked septets, addresses with TON/NPI', () => {
    const [pdu, ...rest] = buildSubmitSms(req('Code {1234} €'), { concatRef: 9, ...codecs })
    assert.equal(rest.length, 0)
    assert.equal(pdu?.data_coding, 0)
    assert.equal(pdu?.esm_class, 0)
    assert.equal(pdu?.registered_delivery, 1)
    assert.equal(pdu?.destination_addr, '14155550123')
    assert.equal(pdu?.dest_addr_ton, 1)
    assert.equal(pdu?.dest_addr_npi, 1)
    assert.equal(pdu?.source_addr, 'ACME')
    assert.equal(pdu?.source_addr_ton, 5)
    // '{' '}' '€' are escape pairs: 10 basic + 3 × 2.
    assert.equal(bytes(pdu?.short_message).length, 16)
    assert.equal(smpp.encodings.ASCII.decode(bytes(pdu?.short_message)), 'Code {1234} €')
  })

  it('3-part UCS-2: UDH 05 00 03 ref 03 seq, esm_class 0x40, data_coding 8, text reassembles', () => {
    const body = 'Привет! '.repeat(20) // 160 UCS-2 units → 67 + 67 + 26
    const pdus = buildSubmitSms(req(body, { encoding: 'UCS-2' }), { concatRef: 200, ...codecs })
    assert.equal(pdus.length, 3)
    let text = ''
    pdus.forEach((p, i) => {
      const sm = bytes(p.short_message)
      assert.deepEqual([...sm.subarray(0, 6)], [0x05, 0x00, 0x03, 200, 3, i + 1])
      assert.equal(p.esm_class, 0x40)
      assert.equal(p.data_coding, 8)
      assert.ok(sm.length - 6 <= 134)
      text += smpp.encodings.UCS2.decode(sm.subarray(6))
    })
    assert.equal(text, body)
  })

  it('GSM-7 multipart never splits an escape pair and stays within 153 septets per part', () => {
    const body = `${'a'.repeat(152)}€${'b'.repeat(10)}`
    const pdus = buildSubmitSms(req(body), { concatRef: 1, ...codecs })
    assert.equal(pdus.length, 2)
    const first = bytes(pdus[0]?.short_message).subarray(6)
    assert.equal(first.length, 152)
    assert.equal(smpp.encodings.ASCII.decode(bytes(pdus[1]?.short_message).subarray(6)), `€${'b'.repeat(10)}`)
  })

  it('carries our message id in the named TLV field when asked to, and validity as relative time', () => {
    const [pdu] = buildSubmitSms(req('hi', { validityPeriodS: 3600 + 61 }), {
      concatRef: 1,
      ...codecs,
      messageIdField: 'smsgw_message_id_1400',
    })
    assert.equal(pdu?.['smsgw_message_id_1400'], MESSAGE_ID)
    assert.equal(pdu?.validity_period, '000000010101000R')
    const [plain] = buildSubmitSms(req('hi', { registeredDelivery: false }), { concatRef: 1, ...codecs })
    assert.equal(plain?.registered_delivery, 0)
    assert.equal('validity_period' in (plain ?? {}), false)
    assert.equal('smsgw_message_id_1400' in (plain ?? {}), false)
  })

  it('honours UCS-2 asked for a GSM-safe body (70 / 67 units per part)', () => {
    assert.deepEqual(partsFor('x'.repeat(70), 'UCS-2').parts.length, 1)
    const split = partsFor('x'.repeat(71), 'UCS-2')
    assert.equal(split.encoding, 'UCS-2')
    assert.deepEqual(
      split.parts.map((p) => p.length),
      [67, 4],
    )
    // A body that needs UCS-2 is sent as UCS-2 whatever the request said.
    assert.equal(partsFor('日本', 'GSM-7').encoding, 'UCS-2')
  })

  it('refuses more than 255 parts', () => {
    assert.throws(() => buildSubmitSms(req('x'.repeat(153 * 256)), { concatRef: 1, ...codecs }), RangeError)
  })
})

describe('addresses and validity', () => {
  it('maps E.164, short codes and alphanumeric senders, and back', () => {
    assert.deepEqual(toAddress('+447700900123'), { ton: 1, npi: 1, addr: '447700900123' })
    assert.deepEqual(toAddress('12345'), { ton: 3, npi: 0, addr: '12345' })
    assert.deepEqual(toAddress('Acme Ltd'), { ton: 5, npi: 0, addr: 'Acme Ltd' })
    assert.equal(fromAddress('447700900123', 1), '+447700900123')
    assert.equal(fromAddress('12345', 3), '12345')
  })

  it('formats relative validity and caps it at 30 days', () => {
    assert.equal(relativeValidity(59), '000000000059000R')
    assert.equal(relativeValidity(86_400 * 2 + 3600 * 3 + 60 * 4 + 5), '000002030405000R')
    assert.equal(relativeValidity(86_400 * 400), '000030000000000R')
    assert.equal(relativeValidity(0), '000000000001000R')
  })
})
