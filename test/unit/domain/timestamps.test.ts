import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { uuidV7Time } from '../../../src/domain/ids.ts'
import { MAX_TIMESTAMP_MS, parseTimestamp } from '../../../src/domain/timestamps.ts'

describe('parseTimestamp', () => {
  it('accepts RFC 3339 instants with any offset and fraction', () => {
    assert.equal(parseTimestamp('2024-06-30T23:59:59Z'), Date.UTC(2024, 5, 30, 23, 59, 59))
    assert.equal(parseTimestamp('2024-07-01T01:59:59.5+02:00'), Date.UTC(2024, 5, 30, 23, 59, 59, 500))
    assert.equal(parseTimestamp('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29))
    assert.equal(parseTimestamp('9999-12-31T23:59:59.999Z'), MAX_TIMESTAMP_MS)
    assert.equal(parseTimestamp('1970-01-01T00:00:00Z'), 0)
  })

  it('refuses leap seconds, days that do not exist and instants outside 1970..9999', () => {
    for (const s of [
      '2024-06-30T23:59:60Z',
      '0000-01-01T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '1969-12-31T23:59:59Z',
      '9999-12-31T23:59:59-01:00',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00',
      '2024-01-01',
      '',
    ])
      assert.equal(parseTimestamp(s), null, s)
  })
})

describe('uuidV7Time', () => {
  it('is null for a v7 id whose 48-bit time is past 9999-12-31', () => {
    assert.equal(uuidV7Time('ffffffff-ffff-7fff-bfff-ffffffffffff'), null)
    assert.equal(uuidV7Time('00000000-0000-7000-8000-000000000000'), 0)
  })
})
