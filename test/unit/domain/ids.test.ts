import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { v4, v7 } from 'uuid'
import { isUuid, newId, uuidV7Time } from '../../../src/domain/ids.ts'

describe('ids', () => {
  it('newId returns a v7 uuid stamped with the current time', () => {
    const before = Date.now()
    const id = newId()
    const after = Date.now()
    assert.ok(isUuid(id))
    assert.equal(id[14], '7')
    const t = uuidV7Time(id)
    assert.ok(t !== null && t >= before && t <= after)
  })

  it('newId values sort in creation order', () => {
    const ids = Array.from({ length: 1000 }, () => newId())
    assert.deepEqual([...ids].sort(), ids)
    assert.equal(new Set(ids).size, ids.length)
  })

  it('isUuid accepts canonical 8-4-4-4-12 hex in either case', () => {
    assert.ok(isUuid('017f22e2-79b0-7cc3-98c4-dc0c0c07398f'))
    assert.ok(isUuid('017F22E2-79B0-7CC3-98C4-DC0C0C07398F'))
    assert.ok(isUuid(v4()))
    assert.ok(isUuid('00000000-0000-0000-0000-000000000000'))
  })

  it('isUuid rejects other shapes', () => {
    const cases = [
      '',
      '017f22e279b07cc398c4dc0c0c07398f',
      '{017f22e2-79b0-7cc3-98c4-dc0c0c07398f}',
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398',
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398fa',
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398g',
      ' 017f22e2-79b0-7cc3-98c4-dc0c0c07398f',
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398f\n',
    ]
    for (const s of cases) assert.equal(isUuid(s), false, JSON.stringify(s))
    assert.equal(isUuid(42 as unknown as string), false)
  })

  it('uuidV7Time decodes the millisecond timestamp', () => {
    // Test vector from RFC 9562 appendix A.6.
    assert.equal(uuidV7Time('017F22E2-79B0-7CC3-98C4-DC0C0C07398F'), 1645557742000)
    assert.equal(uuidV7Time(v7({ msecs: 1_700_000_000_123 })), 1_700_000_000_123)
    assert.equal(uuidV7Time(v7({ msecs: 0 })), 0)
    assert.equal(uuidV7Time(v7({ msecs: Date.UTC(9999, 11, 31, 23, 59, 59, 999) })), 253402300799999)
    // 48 bits reach the year 10889, which no timestamp column or day partition can hold.
    assert.equal(uuidV7Time(v7({ msecs: 2 ** 48 - 1 })), null)
  })

  it('uuidV7Time returns null for anything but a v7 uuid', () => {
    assert.equal(uuidV7Time(v4()), null)
    assert.equal(uuidV7Time('017f22e2-79b0-7cc3-08c4-dc0c0c07398f'), null)
    assert.equal(uuidV7Time('00000000-0000-0000-0000-000000000000'), null)
    assert.equal(uuidV7Time('not-a-uuid'), null)
  })
})
