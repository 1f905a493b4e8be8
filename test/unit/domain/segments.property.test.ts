import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  analyzeBody,
  GSM_BASIC_CHARS,
  GSM_EXTENSION_CHARS,
  hasLoneSurrogate,
  splitBody,
} from '../../../src/domain/segments.ts'

const BASIC = new Set(GSM_BASIC_CHARS)
const EXT = new Set(GSM_EXTENSION_CHARS)

const gsmChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...GSM_BASIC_CHARS) },
  { weight: 2, arbitrary: fc.constantFrom(...GSM_EXTENSION_CHARS) },
)
const anyUnit = fc.oneof(
  { weight: 6, arbitrary: gsmChar },
  { weight: 2, arbitrary: fc.constantFrom('😀', '👍🏽', '𝄞', '中', 'ç', 'ж') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\ud83d', '\ude00') },
)
// size 'max' matters: fast-check otherwise caps generated strings at ~10 units, far below any boundary.
const gsmString = fc.string({ unit: gsmChar, maxLength: 700, size: 'max' })
const unicodeString = fc.oneof(
  fc.string({ unit: anyUnit, maxLength: 700, size: 'max' }),
  fc.string({ unit: anyUnit, maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 400, size: 'max' }),
  fc.string({ unit: 'grapheme', maxLength: 200, size: 'max' }),
)
// Dense width-2 characters make pairs land on part boundaries often, where a naive count goes wrong.
const boundaryString = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '€', '{'), minLength: 150, maxLength: 700, size: 'max' }),
  fc.string({ unit: fc.constantFrom('ж', '😀'), minLength: 60, maxLength: 400, size: 'max' }),
)
const anyString = fc.oneof(gsmString, unicodeString, boundaryString)

// Reference model written independently of the implementation: code points via the string iterator.
function septets(s: string): number {
  let n = 0
  for (const ch of s) n += EXT.has(ch) ? 2 : 1
  return n
}

function isGsm(s: string): boolean {
  for (const ch of s) if (!BASIC.has(ch) && !EXT.has(ch)) return false
  return true
}

function refSegments(s: string): number {
  if (s === '') return 0
  const gsm = isGsm(s)
  const [single, multi] = gsm ? [160, 153] : [70, 67]
  const weights = Array.from(s, (ch) => (gsm ? (EXT.has(ch) ? 2 : 1) : ch.length))
  const total = weights.reduce((a, b) => a + b, 0)
  if (total <= single) return 1
  let parts = 1
  let used = 0
  for (const w of weights) {
    if (used + w > multi) {
      parts++
      used = 0
    }
    used += w
  }
  return parts
}

describe('segment properties', () => {
  it('split parts rejoin to the body and match analyzeBody', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const info = analyzeBody(s)
        const { encoding, parts } = splitBody(s)
        assert.equal(parts.join(''), s)
        assert.equal(parts.length, info.segments)
        assert.equal(encoding, info.encoding)
        assert.equal(info.encoding, isGsm(s) ? 'GSM-7' : 'UCS-2')
        assert.equal(info.segments, refSegments(s))
        assert.equal(info.characters, [...s].length)
        assert.equal(info.units, info.encoding === 'GSM-7' ? septets(s) : s.length)
      }),
      { numRuns: 500 },
    )
  })

  it('each part respects the per-part limit and only splits between whole characters', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const { encoding, parts } = splitBody(s)
        const gsm = encoding === 'GSM-7'
        const size = (p: string) => (gsm ? septets(p) : p.length)
        if (parts.length === 1) assert.ok(size(parts[0] ?? '') <= (gsm ? 160 : 70))
        if (parts.length > 1) {
          const [min, max] = gsm ? [152, 153] : [66, 67]
          parts.forEach((p, i) => {
            assert.ok(size(p) <= max, `part ${i} too large: ${size(p)}`)
            // Greedy packing only leaves room when the next character is a width-2 one.
            if (i < parts.length - 1) assert.ok(size(p) >= min, `part ${i} underfilled: ${size(p)}`)
          })
          if (!gsm) {
            for (let i = 0; i < parts.length - 1; i++) {
              const endsHigh = /[\ud800-\udbff]$/.test(parts[i] ?? '')
              const startsLow = /^[\udc00-\udfff]/.test(parts[i + 1] ?? '')
              assert.ok(!(endsHigh && startsLow), `surrogate pair split after part ${i}`)
            }
          }
        }
      }),
      { numRuns: 500 },
    )
  })

  it('segments never decrease when a character is appended', () => {
    fc.assert(
      fc.property(anyString, anyUnit, (s, ch) => {
        assert.ok(analyzeBody(s + ch).segments >= analyzeBody(s).segments)
      }),
      { numRuns: 500 },
    )
  })

  it('hasLoneSurrogate agrees with a regex oracle', () => {
    fc.assert(
      fc.property(unicodeString, (s) => {
        assert.equal(hasLoneSurrogate(s), /[\ud800-\udfff]/u.test(s))
      }),
    )
  })
})
