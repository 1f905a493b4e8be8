import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { orderRoutes, type RouteCandidate } from '../../../src/domain/routing.ts'
import { canMove } from '../../../src/domain/status.ts'

const a: RouteCandidate = { name: 'a', weight: 100, available: true }
const b: RouteCandidate = { name: 'b', weight: 50, available: true }

describe('orderRoutes', () => {
  it('draws the first choice by weight and fails over to the rest', () => {
    assert.deepEqual(
      orderRoutes([a, b], '+14155550123', 'US', () => 0.1),
      ['a', 'b'],
    )
    assert.deepEqual(
      orderRoutes([a, b], '+14155550123', 'US', () => 0.9),
      ['b', 'a'],
    )
  })
  it('puts providers with an open circuit last', () => {
    assert.deepEqual(
      orderRoutes([{ ...a, available: false }, b], '+14155550123', 'US', () => 0),
      ['b', 'a'],
    )
  })
  it('serves only the destination country; a matching prefix wins over countries', () => {
    const us = { ...a, countries: ['US'] }
    const gb = { ...b, countries: ['GB'] }
    assert.deepEqual(
      orderRoutes([us, gb], '+447400123456', 'GB', () => 0),
      ['b'],
    )
    const special = { name: 'p', weight: 1, prefixes: ['+1415'], available: true }
    assert.deepEqual(
      orderRoutes([us, gb, special], '+14155550123', 'US', () => 0),
      ['p'],
    )
  })
  it('weights are honoured in proportion (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 }), (wa, wb) => {
        let firstA = 0
        const n = 2000
        for (let i = 0; i < n; i++) {
          if (
            orderRoutes(
              [
                { ...a, weight: wa },
                { ...b, weight: wb },
              ],
              '+1',
              'US',
              () => i / n,
            )[0] === 'a'
          )
            firstA++
        }
        assert.ok(Math.abs(firstA / n - wa / (wa + wb)) < 0.01)
      }),
    )
  })
})

describe('status machine', () => {
  it('moves only forward', () => {
    assert.equal(canMove('queued', 'sending'), true)
    assert.equal(canMove('delivered', 'sent'), false)
    assert.equal(canMove('delivered', 'failed'), false)
    assert.equal(canMove('sent', 'delivered'), true)
  })
})
