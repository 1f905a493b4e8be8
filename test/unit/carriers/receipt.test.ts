// Pure: the SMPP receipt parser (no sockets).

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { receiptText } from '../../../src/carriers/smpp/deliver-sm.ts'
import {
  formatReceiptText,
  parseReceiptDate,
  parseReceiptText,
  receiptFromDeliverSm,
  statusFromMessageState,
  statusFromStat,
} from '../../../src/carriers/smpp/receipt.ts'
import { loadSmpp, type Pdu } from '../../../src/carriers/smpp/smpp-types.ts'

const STANDARD =
  'id:7f3a0c91 sub:001 dlvrd:001 submit date:2506011230 done date:2506011231 stat:DELIVRD err:000 text:Your code is 4815'

describe('parseReceiptText', () => {
  it('splits the standard Appendix B format into fields', () => {
    assert.deepEqual(parseReceiptText(STANDARD), {
      id: '7f3a0c91',
      sub: '001',
      dlvrd: '001',
      submitDate: '2506011230',
      doneDate: '2506011231',
      stat: 'DELIVRD',
      err: '000',
      text: 'Your code is 4815',
    })
  })

  it('reads keys case-insensitively and in any order; text keeps colons and key-like words', () => {
    const f = parseReceiptText('Stat:UNDELIV ID:abc-1 Err:034 Text:id:x stat:DELIVRD done date:1')
    assert.equal(f.id, 'abc-1')
    assert.equal(f.stat, 'UNDELIV')
    assert.equal(f.err, '034')
    assert.equal(f.text, 'id:x stat:DELIVRD done date:1')
  })

  it('tolerates missing fields and an empty string', () => {
    assert.deepEqual(parseReceiptText('id:42 stat:EXPIRED'), { id: '42', stat: 'EXPIRED' })
    assert.deepEqual(parseReceiptText(''), {})
    assert.deepEqual(parseReceiptText('hello world'), {})
  })

  it('formatReceiptText is its inverse', () => {
    const at = new Date(Date.UTC(2025, 5, 1, 12, 30, 45))
    const text = formatReceiptText({
      id: 'c0ffee',
      stat: 'UNDELIV',
      err: '001',
      submitDate: at,
      doneDate: at,
      delivered: false,
      text: 'Hello there, this is longer than twenty',
    })
    const f = parseReceiptText(text)
    assert.equal(f.id, 'c0ffee')
    assert.equal(f.dlvrd, '000')
    assert.equal(f.submitDate, '2506011230')
    assert.equal(f.text, 'Hello there, this is')
  })
})

describe('receipt statuses and dates', () => {
  it('maps stat values', () => {
    assert.equal(statusFromStat('DELIVRD'), 'delivered')
    assert.equal(statusFromStat('undeliv'), 'undelivered')
    assert.equal(statusFromStat('EXPIRED'), 'expired')
    assert.equal(statusFromStat('REJECTD'), 'rejected')
    assert.equal(statusFromStat('DELETED'), 'undelivered')
    assert.equal(statusFromStat('ACCEPTD'), 'accepted')
    assert.equal(statusFromStat('ENROUTE'), 'accepted')
    assert.equal(statusFromStat('UNKNOWN'), 'unknown')
    assert.equal(statusFromStat('WHATEVER'), 'unknown')
  })

  it('maps message_state TLV values', () => {
    assert.equal(statusFromMessageState(2), 'delivered')
    assert.equal(statusFromMessageState(3), 'expired')
    assert.equal(statusFromMessageState(5), 'undelivered')
    assert.equal(statusFromMessageState(8), 'rejected')
    assert.equal(statusFromMessageState(6), 'accepted')
    assert.equal(statusFromMessageState(99), 'unknown')
  })

  it('parses 10- and 12-digit dates as UTC and refuses impossible ones', () => {
    assert.deepEqual(parseReceiptDate('2506011231'), new Date(Date.UTC(2025, 5, 1, 12, 31)))
    assert.deepEqual(parseReceiptDate('250601123159'), new Date(Date.UTC(2025, 5, 1, 12, 31, 59)))
    assert.equal(parseReceiptDate('2502311200'), undefined)
    assert.equal(parseReceiptDate('25060112'), undefined)
    assert.equal(parseReceiptDate('abcdefghij'), undefined)
  })
})

describe('receiptFromDeliverSm', () => {
  it('builds a receipt from the text alone', () => {
    const r = receiptFromDeliverSm({ text: STANDARD })
    assert.deepEqual(r, {
      carrierId: '7f3a0c91',
      status: 'delivered',
      doneAt: new Date(Date.UTC(2025, 5, 1, 12, 31)),
      raw: STANDARD,
    })
  })

  it('keeps a non-zero err as errorCode', () => {
    const r = receiptFromDeliverSm({ text: 'id:9 stat:UNDELIV err:034' })
    assert.equal(r?.status, 'undelivered')
    assert.equal(r?.errorCode, '034')
  })

  it('prefers the receipted_message_id and message_state TLVs over the text', () => {
    const r = receiptFromDeliverSm({
      text: 'id:123 stat:DELIVRD err:000',
      receiptedMessageId: '7B',
      messageState: 5,
    })
    assert.equal(r?.carrierId, '7B')
    assert.equal(r?.status, 'undelivered')
  })

  it('works from TLVs alone (no text)', () => {
    assert.deepEqual(receiptFromDeliverSm({ receiptedMessageId: 'abc', messageState: 2 }), {
      carrierId: 'abc',
      status: 'delivered',
    })
  })

  it('returns null when nothing names the message', () => {
    assert.equal(receiptFromDeliverSm({ text: 'stat:DELIVRD err:000' }), null)
    assert.equal(receiptFromDeliverSm({}), null)
    assert.equal(receiptFromDeliverSm({ receiptedMessageId: '  ', text: 'garbage' }), null)
  })
})

describe('receiptText', () => {
  it('undoes the library GSM decoding of data_coding 0 so ASCII ids survive', () => {
    const smpp = loadSmpp()
    const raw = 'id:ab_12$x stat:DELIVRD err:000 text:a_b@c'
    // What the library hands us for data_coding 0: the octets decoded as GSM 03.38 ('_' → '§').
    const decoded = smpp.encodings.ASCII.decode(Buffer.from(raw, 'latin1'))
    assert.notEqual(decoded, raw)
    const pdu = { data_coding: 0, short_message: { message: decoded } } as unknown as Pdu
    assert.equal(receiptText(pdu, smpp.encodings.ASCII), raw)
  })

  it('falls back to message_payload when short_message is empty', () => {
    const smpp = loadSmpp()
    const pdu = {
      data_coding: 3,
      short_message: { message: '' },
      message_payload: { message: 'id:1 stat:EXPIRED' },
    } as unknown as Pdu
    assert.equal(receiptText(pdu, smpp.encodings.ASCII), 'id:1 stat:EXPIRED')
  })
})
