import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { formatAmount, multiplyMicros, parseAmount } from '../../../src/domain/money.ts'

const LIMIT = 1_000_000_000_000_000

// Independent oracle: decimal string -> exact micros as bigint.
function refMicros(s: string): bigint {
  const neg = s.startsWith('-')
  const [int = '0', frac = ''] = (neg ? s.slice(1) : s).split('.')
  const v = BigInt(int) * 1_000_000n + BigInt(frac.padEnd(6, '0') || '0')
  return neg ? -v : v
}

const digit = fc.constantFrom(...'0123456789')
const validDecimal = fc
  .record({
    neg: fc.boolean(),
    zeros: fc.string({ unit: fc.constant('0'), maxLength: 3 }),
    int: fc.integer({ min: 0, max: 1_000_000_000 }),
    frac: fc.option(fc.string({ unit: digit, minLength: 1, maxLength: 6 }), { nil: undefined }),
  })
  .map(
    ({ neg, zeros, int, frac }) => `${neg ? '-' : ''}${zeros}${int}${frac === undefined ? '' : `.${frac}`}`,
  )
  .filter((s) => {
    const v = refMicros(s)
    return v <= BigInt(LIMIT) && v >= -BigInt(LIMIT)
  })

const micros = fc.integer({ min: -LIMIT, max: LIMIT })

describe('money properties', () => {
  it('parseAmount(formatAmount(m)) === m', () => {
    fc.assert(fc.property(micros, (m) => parseAmount(formatAmount(m)) === m))
  })

  it('format keeps at least 4 and at most 6 decimals', () => {
    fc.assert(
      fc.property(micros, (m) => {
        const decimals = formatAmount(m).split('.')[1] ?? ''
        return decimals.length >= 4 && decimals.length <= 6
      }),
    )
  })

  it('parse is exact and format preserves the numeric value', () => {
    fc.assert(
      fc.property(validDecimal, (s) => {
        const m = parseAmount(s)
        assert.equal(BigInt(m), refMicros(s))
        assert.equal(refMicros(formatAmount(m)), refMicros(s))
      }),
    )
  })

  it('sums of parsed amounts are exact', () => {
    // Nine amounts of at most 1e15 stay below 2^53, where float addition of integers is exact.
    fc.assert(
      fc.property(fc.array(validDecimal, { maxLength: 9 }), (list) => {
        const sum = list.reduce((acc, s) => acc + parseAmount(s), 0)
        const ref = list.reduce((acc, s) => acc + refMicros(s), 0n)
        assert.equal(BigInt(sum), ref)
      }),
    )
  })

  it('multiplyMicros equals the bigint product when safe and throws otherwise', () => {
    const safe = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })
    const small = fc.integer({ min: -1_000_000, max: 1_000_000 })
    fc.assert(
      fc.property(fc.oneof(micros, safe), fc.oneof(small, safe), (m, n) => {
        const ref = BigInt(m) * BigInt(n)
        if (ref <= BigInt(Number.MAX_SAFE_INTEGER) && ref >= BigInt(Number.MIN_SAFE_INTEGER)) {
          assert.equal(BigInt(multiplyMicros(m, n)), ref)
        } else {
          assert.throws(() => multiplyMicros(m, n), RangeError)
        }
      }),
    )
  })
})
