import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  formatAmount,
  InvalidAmountError,
  MICROS_PER_UNIT,
  multiplyMicros,
  parseAmount,
  toMicros,
} from '../../../src/domain/money.ts'

describe('parseAmount', () => {
  it('parses exact decimals into micros', () => {
    assert.equal(MICROS_PER_UNIT, 1_000_000)
    assert.equal(parseAmount('0'), 0)
    assert.equal(parseAmount('1'), 1_000_000)
    assert.equal(parseAmount('0.0079'), 7900)
    assert.equal(parseAmount('117.3'), 117_300_000)
    assert.equal(parseAmount('0.000001'), 1)
    assert.equal(parseAmount('-5'), -5_000_000)
    assert.equal(parseAmount('-0.5'), -500_000)
    assert.equal(parseAmount('007.50'), 7_500_000)
    assert.equal(parseAmount('1000000000'), 1e15)
    assert.equal(parseAmount('-1000000000.000000'), -1e15)
    assert.equal(parseAmount('00000000000000000000001'), 1_000_000)
  })

  it('never returns negative zero', () => {
    assert.ok(Object.is(parseAmount('-0'), 0))
    assert.ok(Object.is(parseAmount('-0.000'), 0))
  })

  it('rejects anything that is not a plain decimal', () => {
    const bad = [
      '',
      ' 1',
      '1 ',
      '+1',
      '1e3',
      '1E3',
      '.5',
      '5.',
      '1.0000001',
      '0.1234567',
      '1,5',
      '1_000',
      '--1',
      '- 1',
      '0x10',
      'NaN',
      'Infinity',
      '١',
      '1.5\n',
    ]
    for (const s of bad) assert.throws(() => parseAmount(s), InvalidAmountError, JSON.stringify(s))
  })

  it('rejects amounts beyond 1e15 micros', () => {
    assert.throws(() => parseAmount('1000000000.000001'), InvalidAmountError)
    assert.throws(() => parseAmount('-1000000000.000001'), InvalidAmountError)
    assert.throws(() => parseAmount('99999999999'), InvalidAmountError)
    assert.throws(() => parseAmount('9'.repeat(400)), InvalidAmountError)
  })

  it('rejects non-string input with a coded error', () => {
    for (const v of [1, 1.5, null, undefined, {}, 10n]) {
      assert.throws(
        () => parseAmount(v as unknown as string),
        (e: unknown) => e instanceof InvalidAmountError && e.code === 'invalid_amount',
      )
    }
  })

  it('has a clear message and name', () => {
    assert.throws(() => parseAmount('1.2345678'), {
      name: 'InvalidAmountError',
      message: /at most 6 decimals/,
    })
    assert.throws(() => parseAmount('2000000000'), { message: /out of range/ })
  })
})

describe('formatAmount', () => {
  it('uses at least four decimals and more only when needed', () => {
    assert.equal(formatAmount(7900), '0.0079')
    assert.equal(formatAmount(117_300_000), '117.3000')
    assert.equal(formatAmount(12_345), '0.012345')
    assert.equal(formatAmount(12_340), '0.01234')
    assert.equal(formatAmount(0), '0.0000')
    assert.equal(formatAmount(-0), '0.0000')
    assert.equal(formatAmount(-5_000_000), '-5.0000')
    assert.equal(formatAmount(1), '0.000001')
    assert.equal(formatAmount(-1), '-0.000001')
    assert.equal(formatAmount(1e15), '1000000000.0000')
    assert.equal(formatAmount(Number.MAX_SAFE_INTEGER), '9007199254.740991')
  })

  it('rejects non-integers', () => {
    for (const v of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => formatAmount(v), RangeError)
    }
  })
})

describe('multiplyMicros', () => {
  it('multiplies exactly', () => {
    assert.equal(multiplyMicros(7900, 3), 23_700)
    assert.equal(multiplyMicros(-7900, 3), -23_700)
    assert.ok(Object.is(multiplyMicros(-7900, 0), 0))
  })

  it('throws RangeError when the product is not a safe integer', () => {
    assert.throws(() => multiplyMicros(1e15, 10), RangeError)
    assert.throws(() => multiplyMicros(2 ** 30, 2 ** 23), RangeError)
    assert.throws(() => multiplyMicros(1.5, 2), RangeError)
    assert.throws(() => multiplyMicros(10, 0.5), RangeError)
  })
})

describe('toMicros', () => {
  it('accepts pg bigint strings, numbers and bigints', () => {
    assert.equal(toMicros('7900'), 7900)
    assert.equal(toMicros('-7900'), -7900)
    assert.ok(Object.is(toMicros('-0'), 0))
    assert.equal(toMicros('9007199254740991'), Number.MAX_SAFE_INTEGER)
    assert.equal(toMicros(42), 42)
    assert.equal(toMicros(42n), 42)
    assert.equal(toMicros(-(2n ** 53n) + 1n), Number.MIN_SAFE_INTEGER)
  })

  it('throws RangeError for anything not a safe integer', () => {
    const bad: unknown[] = ['9007199254740992', '1.5', '', ' 1', '1e3', 1.5, Number.NaN, 2n ** 53n, null]
    for (const v of bad) assert.throws(() => toMicros(v as string), RangeError, String(v))
  })
})
