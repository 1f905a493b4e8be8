import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  analyzeBody,
  countCharacters,
  GSM_BASIC_CHARS,
  GSM_EXTENSION_CHARS,
  hasLoneSurrogate,
  splitBody,
} from '../../../src/domain/segments.ts'

const EMOJI = '😀' // U+1F600, a surrogate pair

describe('GSM alphabet tables', () => {
  it('holds the 127 basic characters (ESC excluded) and 10 extension characters', () => {
    assert.equal([...GSM_BASIC_CHARS].length, 127)
    assert.equal(new Set(GSM_BASIC_CHARS).size, 127)
    assert.equal([...GSM_EXTENSION_CHARS].length, 10)
  })

  it('classifies every basic and extension character as GSM-7', () => {
    assert.deepEqual(analyzeBody(GSM_BASIC_CHARS), {
      encoding: 'GSM-7',
      segments: 1,
      units: 127,
      characters: 127,
    })
    assert.deepEqual(analyzeBody(GSM_EXTENSION_CHARS), {
      encoding: 'GSM-7',
      segments: 1,
      units: 20,
      characters: 10,
    })
  })

  it('treats characters outside GSM 03.38 as UCS-2', () => {
    for (const ch of ['`', 'ç', 'á', 'Ä\u0308', '\x1b', '\t', '\u00a0', '”', '中', EMOJI]) {
      assert.equal(analyzeBody(`hello ${ch}`).encoding, 'UCS-2', JSON.stringify(ch))
    }
  })
})

describe('analyzeBody GSM-7', () => {
  it('empty body has 0 segments', () => {
    assert.deepEqual(analyzeBody(''), { encoding: 'GSM-7', segments: 0, units: 0, characters: 0 })
  })

  it('160 chars fit one segment, 161 need two', () => {
    assert.equal(analyzeBody('a'.repeat(160)).segments, 1)
    assert.equal(analyzeBody('a'.repeat(161)).segments, 2)
  })

  it('153 septets per concatenated part', () => {
    assert.equal(analyzeBody('a'.repeat(306)).segments, 2)
    assert.equal(analyzeBody('a'.repeat(307)).segments, 3)
    assert.equal(analyzeBody('a'.repeat(459)).segments, 3)
    assert.equal(analyzeBody('a'.repeat(460)).segments, 4)
  })

  it('counts extension characters as two septets', () => {
    assert.deepEqual(analyzeBody('€'), { encoding: 'GSM-7', segments: 1, units: 2, characters: 1 })
    assert.equal(analyzeBody(`${'a'.repeat(158)}€`).segments, 1)
    assert.equal(analyzeBody(`${'a'.repeat(159)}€`).segments, 2)
    assert.equal(analyzeBody('€'.repeat(80)).segments, 1)
    assert.equal(analyzeBody('€'.repeat(81)).units, 162)
  })

  it('never splits an escape pair across parts', () => {
    // '€' would occupy septets 153-154, so the pair moves whole into part two and a naive
    // ceil(306 / 153) = 2 would undercount.
    const body = `${'a'.repeat(152)}€${'b'.repeat(152)}`
    assert.equal(analyzeBody(body).units, 306)
    assert.equal(analyzeBody(body).segments, 3)
    assert.deepEqual(
      splitBody(body).parts.map((p) => p.length),
      [152, 152, 1],
    )
    assert.equal(analyzeBody(`${'a'.repeat(151)}€${'b'.repeat(153)}`).segments, 2)
  })

  it('handles a 1600-char body', () => {
    assert.deepEqual(analyzeBody('x'.repeat(1600)), {
      encoding: 'GSM-7',
      segments: 11,
      units: 1600,
      characters: 1600,
    })
  })
})

describe('analyzeBody UCS-2', () => {
  it('70 units fit one segment, 71 need two', () => {
    assert.deepEqual(analyzeBody('ж'.repeat(70)), {
      encoding: 'UCS-2',
      segments: 1,
      units: 70,
      characters: 70,
    })
    assert.equal(analyzeBody('ж'.repeat(71)).segments, 2)
  })

  it('67 units per concatenated part', () => {
    assert.equal(analyzeBody('ж'.repeat(134)).segments, 2)
    assert.equal(analyzeBody('ж'.repeat(135)).segments, 3)
    assert.equal(analyzeBody('ж'.repeat(1600)).segments, 24)
  })

  it('counts emoji as two units and one character', () => {
    assert.deepEqual(analyzeBody(EMOJI), { encoding: 'UCS-2', segments: 1, units: 2, characters: 1 })
    assert.deepEqual(analyzeBody(`Hi ${EMOJI}!`), { encoding: 'UCS-2', segments: 1, units: 6, characters: 5 })
    assert.equal(analyzeBody(EMOJI.repeat(35)).segments, 1)
    assert.equal(analyzeBody(EMOJI.repeat(36)).segments, 2)
  })

  it('never splits a surrogate pair across parts', () => {
    // The pair would occupy units 67-68, so part one holds only 66.
    const body = `${'ж'.repeat(66)}${EMOJI}${'ж'.repeat(66)}`
    assert.equal(body.length, 134)
    assert.equal(analyzeBody(body).segments, 3)
    const { parts } = splitBody(body)
    assert.deepEqual(
      parts.map((p) => p.length),
      [66, 67, 1],
    )
    assert.equal(parts[1]?.slice(0, 2), EMOJI)
    assert.equal(analyzeBody(`${'ж'.repeat(65)}${EMOJI}${'ж'.repeat(67)}`).segments, 2)
  })

  it('counts lone surrogates as one unit each', () => {
    assert.deepEqual(analyzeBody('a\ud800b'), { encoding: 'UCS-2', segments: 1, units: 3, characters: 3 })
    assert.deepEqual(analyzeBody('\ude00\ud83d'), { encoding: 'UCS-2', segments: 1, units: 2, characters: 2 })
  })

  it('one non-GSM character switches the whole body to UCS-2', () => {
    assert.equal(analyzeBody(`${'a'.repeat(100)}ç`).segments, 2)
  })
})

describe('splitBody', () => {
  it('returns the body as a single part when it fits', () => {
    assert.deepEqual(splitBody('hello'), { encoding: 'GSM-7', parts: ['hello'] })
    assert.deepEqual(splitBody(''), { encoding: 'GSM-7', parts: [] })
    assert.deepEqual(splitBody(`hi ${EMOJI}`), { encoding: 'UCS-2', parts: [`hi ${EMOJI}`] })
  })

  it('splits into 153-septet parts', () => {
    const body = 'a'.repeat(153) + 'b'.repeat(153) + 'c'
    assert.deepEqual(splitBody(body), { encoding: 'GSM-7', parts: ['a'.repeat(153), 'b'.repeat(153), 'c'] })
  })

  it('splits into 67-unit parts', () => {
    const body = 'ж'.repeat(67) + 'я'.repeat(4)
    assert.deepEqual(splitBody(body), { encoding: 'UCS-2', parts: ['ж'.repeat(67), 'я'.repeat(4)] })
  })
})

describe('hasLoneSurrogate / countCharacters', () => {
  it('detects unpaired surrogates', () => {
    assert.equal(hasLoneSurrogate(''), false)
    assert.equal(hasLoneSurrogate('plain'), false)
    assert.equal(hasLoneSurrogate(`a${EMOJI}b${EMOJI}`), false)
    assert.equal(hasLoneSurrogate('\ud83d'), true)
    assert.equal(hasLoneSurrogate('a\ud83db'), true)
    assert.equal(hasLoneSurrogate('\ude00'), true)
    assert.equal(hasLoneSurrogate('\ude00\ud83d'), true)
    assert.equal(hasLoneSurrogate(`${EMOJI}\ud83d`), true)
    assert.equal(hasLoneSurrogate('\ud83d\ud83d\ude00'), true)
  })

  it('counts code points', () => {
    assert.equal(countCharacters(''), 0)
    assert.equal(countCharacters('abc'), 3)
    assert.equal(countCharacters(`${EMOJI}${EMOJI}`), 2)
    assert.equal(countCharacters('\ud83d'), 1)
    assert.equal(countCharacters('👍🏽'), 2)
  })
})
