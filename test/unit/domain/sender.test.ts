import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseSender } from '../../../src/domain/sender.ts'

describe('parseSender', () => {
  it('accepts valid E.164 numbers of any type', () => {
    assert.deepEqual(parseSender('+14155550123'), { kind: 'number', value: '+14155550123' })
    assert.deepEqual(parseSender('+442071838750'), { kind: 'number', value: '+442071838750' })
    assert.deepEqual(parseSender('+18005550199'), { kind: 'number', value: '+18005550199' })
  })

  it('rejects numbers that are invalid or not in strict E.164', () => {
    for (const s of ['+1234', '+1 415 555 0123', '+0123456789', '+', '+447700900123', '+14155550123 ']) {
      assert.equal(parseSender(s), null, s)
    }
  })

  it('accepts 3 to 8 digit short codes', () => {
    assert.deepEqual(parseSender('123'), { kind: 'shortcode', value: '123' })
    assert.deepEqual(parseSender('12345678'), { kind: 'shortcode', value: '12345678' })
    assert.equal(parseSender('12'), null)
    assert.equal(parseSender('123456789'), null)
    assert.equal(parseSender('14155550123'), null)
  })

  it('accepts alphanumeric ids of 1-11 characters containing a letter', () => {
    for (const s of ['A', 'ACME', 'Acme Corp', 'AT&T', 'my_co.uk', 'Shop-24', 'ABCDEFGHIJK', '1a']) {
      assert.deepEqual(parseSender(s), { kind: 'alphanumeric', value: s }, s)
    }
  })

  it('rejects malformed alphanumeric ids', () => {
    const cases = [
      '',
      ' ',
      'ABCDEFGHIJKL',
      ' ACME',
      'ACME ',
      '123-456',
      '...',
      'ÄCME',
      'AC!ME',
      'AC\tME',
      'a\nb',
    ]
    for (const s of cases) assert.equal(parseSender(s), null, JSON.stringify(s))
  })

  it('returns null for non-string input', () => {
    assert.equal(parseSender(undefined as unknown as string), null)
  })
})
