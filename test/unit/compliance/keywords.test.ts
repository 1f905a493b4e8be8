import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { keywordAction, wordsOf } from '../../../src/compliance/keywords.ts'
import { numericOnlyCountries } from '../../../src/compliance/sender-policy.ts'
import { candidateNumbers } from '../../../src/inbound/inbound-router.ts'

describe('compliance keywords', () => {
  it('reads the first word case-insensitively, ignoring trailing punctuation', () => {
    for (const body of ['STOP', 'stop', ' Stop. ', 'StOp!', 'STOP please', 'stop\nnow'])
      assert.equal(keywordAction(wordsOf(body)[0]), 'opt_out', body)
    for (const w of ['STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'])
      assert.equal(keywordAction(w), 'opt_out')
    for (const w of ['START', 'UNSTOP', 'YES']) assert.equal(keywordAction(w), 'opt_in')
    for (const w of ['HELP', 'INFO']) assert.equal(keywordAction(w), 'help')
    for (const body of ['', '   ', 'please stop', 'STOPPED', 'Hi'])
      assert.equal(keywordAction(wordsOf(body)[0]), undefined, body)
    assert.deepEqual(wordsOf('stop acme now'), ['STOP', 'ACME'])
  })

  it('numeric-only countries parse from the env list', () => {
    assert.deepEqual([...numericOnlyCountries(' us, CA ,')], ['US', 'CA'])
    assert.equal(numericOnlyCountries(undefined).size, 0)
  })

  it('a long code sent without its + is still looked up as E.164', () => {
    assert.deepEqual(candidateNumbers('+14155550100'), ['+14155550100'])
    assert.deepEqual(candidateNumbers('14155550100'), ['14155550100', '+14155550100'])
    assert.deepEqual(candidateNumbers('72345'), ['72345'])
  })
})
