import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { maskPhone, parseRecipient } from '../../../src/domain/phone.ts'

describe('parseRecipient', () => {
  it('accepts the API docs example (US numbers are FIXED_LINE_OR_MOBILE)', () => {
    assert.deepEqual(parseRecipient('+14155550123'), { ok: true, e164: '+14155550123', country: 'US' })
  })

  it('accepts mobiles and reports the ISO country of the number itself', () => {
    assert.deepEqual(parseRecipient('+447400123456'), { ok: true, e164: '+447400123456', country: 'GB' })
    // libphonenumber metadata assigns +44 7911 1xxxxx to Guernsey, not GB.
    assert.deepEqual(parseRecipient('+447911123456'), { ok: true, e164: '+447911123456', country: 'GG' })
    assert.deepEqual(parseRecipient('+4915123456789'), { ok: true, e164: '+4915123456789', country: 'DE' })
    assert.deepEqual(parseRecipient('+33612345678'), { ok: true, e164: '+33612345678', country: 'FR' })
    assert.deepEqual(parseRecipient('+16135550123'), { ok: true, e164: '+16135550123', country: 'CA' })
  })

  it('accepts personal numbers', () => {
    assert.deepEqual(parseRecipient('+447012345678'), { ok: true, e164: '+447012345678', country: 'GB' })
  })

  it('is lenient about separators and surrounding whitespace', () => {
    const expected = { ok: true, e164: '+14155550123', country: 'US' }
    for (const s of ['+1 (415) 555-0123', '+1.415.555.0123', '  +1 415 555 0123\n', '+1-415-555-0123']) {
      assert.deepEqual(parseRecipient(s), expected, s)
    }
  })

  it('accepts national format only with a country hint', () => {
    assert.deepEqual(parseRecipient('(415) 555-0123', 'US'), {
      ok: true,
      e164: '+14155550123',
      country: 'US',
    })
    assert.deepEqual(parseRecipient('07400 123456', 'GB'), { ok: true, e164: '+447400123456', country: 'GB' })
    assert.deepEqual(parseRecipient('07400 123456', 'gb'), { ok: true, e164: '+447400123456', country: 'GB' })
    assert.deepEqual(parseRecipient('4155550123'), { ok: false, reason: 'invalid' })
    assert.deepEqual(parseRecipient('07400 123456', 'XX'), { ok: false, reason: 'invalid' })
    assert.deepEqual(parseRecipient('07400 123456', ''), { ok: false, reason: 'invalid' })
  })

  it('lets an explicit + override the hint', () => {
    assert.deepEqual(parseRecipient('+447400123456', 'US'), {
      ok: true,
      e164: '+447400123456',
      country: 'GB',
    })
  })

  it('rejects numbers that cannot receive SMS as not_mobile', () => {
    const cases = [
      '+442071838750', // London landline
      '+4930123456', // Berlin landline
      '+18005550199', // toll free
      '+19005550123', // premium rate
      '+448712345678', // premium rate
      '+443001234567', // UAN
    ]
    for (const s of cases) assert.deepEqual(parseRecipient(s), { ok: false, reason: 'not_mobile' }, s)
  })

  it('rejects malformed or invalid input as invalid', () => {
    const cases = [
      '+1234',
      'hello',
      '',
      '   ',
      '+',
      '++447400123456',
      '+44 7400 12345a',
      'tel:+447400123456',
      '+1 415 555 0123 ext 5',
      '+447400１２３４５６',
      '+447700900123', // reserved drama range: possible but not valid
      '+881612345678', // Iridium: valid but has no country
    ]
    for (const s of cases) assert.deepEqual(parseRecipient(s), { ok: false, reason: 'invalid' }, s)
  })

  it('rejects input longer than 32 characters', () => {
    const padded = `+447400123456${' '.repeat(19)}`
    assert.equal(padded.length, 32)
    assert.equal(parseRecipient(padded).ok, true)
    assert.deepEqual(parseRecipient(`${padded} `), { ok: false, reason: 'invalid' })
    assert.deepEqual(parseRecipient('1'.repeat(1000)), { ok: false, reason: 'invalid' })
  })

  it('rejects non-string input without throwing', () => {
    assert.deepEqual(parseRecipient(14155550123 as unknown as string), { ok: false, reason: 'invalid' })
  })

  it('remembers a parsed number per spelling and, for a national number, per country', () => {
    // The same national digits are a different number in another country: the cache must not mix them.
    assert.deepEqual(parseRecipient('0612345678', 'FR'), { ok: true, e164: '+33612345678', country: 'FR' })
    assert.deepEqual(parseRecipient('0612345678', 'NL'), { ok: true, e164: '+31612345678', country: 'NL' })
    assert.deepEqual(parseRecipient('0612345678', 'FR'), { ok: true, e164: '+33612345678', country: 'FR' })
    assert.deepEqual(parseRecipient('0612345678'), { ok: false, reason: 'invalid' })
    // A repeat is answered from the cache (the same frozen object), and it cannot be altered there.
    const first = parseRecipient('+14155550123')
    assert.equal(parseRecipient(' +14155550123 '), first)
    assert.ok(Object.isFrozen(first))
  })
})

describe('maskPhone', () => {
  it('keeps the first 4 and last 2 digits', () => {
    assert.equal(maskPhone('+14155550123'), '+1415*****23')
    assert.equal(maskPhone('+447400123456'), '+4474******56')
    assert.equal(maskPhone('+1234567'), '+1234*67')
  })

  it('hides everything when too short to mask', () => {
    assert.equal(maskPhone('+123456'), '+******')
    assert.equal(maskPhone('+1'), '+*')
    assert.equal(maskPhone(''), '')
  })
})
