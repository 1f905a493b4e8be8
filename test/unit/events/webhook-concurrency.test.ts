import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { createAdaptiveLimits } from '../../../src/events/webhook-concurrency.ts'

describe('adaptive per-target concurrency', () => {
  it('a fast endpoint grows to the maximum; another target is not affected', () => {
    const limits = createAdaptiveLimits({ initial: 8, max: 64 })
    for (let i = 0; i < 200; i++) limits.record('busy', true, 20)
    assert.equal(limits.limit('busy'), 64)
    assert.equal(limits.limit('other'), 8)
  })

  it('grows by doubling per round trip until the first trouble, then by one per round trip', () => {
    const limits = createAdaptiveLimits({ initial: 4, max: 1000 })
    // A round trip: as many completions as the limit.
    const roundTrip = (ok = true, ms = 10) => {
      const n = limits.limit('t')
      for (let i = 0; i < n; i++) limits.record('t', ok, ms)
    }
    roundTrip()
    assert.equal(limits.limit('t'), 8)
    roundTrip()
    assert.equal(limits.limit('t'), 16)
    limits.record('t', false, 10_000)
    assert.equal(limits.limit('t'), 8)
    // The other attempts of the troubled round trip do not halve it again.
    for (let i = 0; i < 7; i++) limits.record('t', false, 10_000)
    assert.equal(limits.limit('t'), 8)
    roundTrip()
    assert.equal(limits.limit('t'), 9)
    roundTrip()
    assert.equal(limits.limit('t'), 10)
  })

  it('slow answers take a quarter off; a 5xx/timeout streak takes it down to 1', () => {
    const limits = createAdaptiveLimits({ initial: 32, max: 64, slowMs: 2000 })
    limits.record('t', true, 2500)
    assert.equal(limits.limit('t'), 24)
    for (let i = 0; i < 1000; i++) limits.record('t', false, 10_000)
    assert.equal(limits.limit('t'), 1)
  })

  it('the limit stays within [1, max] whatever the outcomes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 20_000 })), { maxLength: 500 }),
        (initial, max, outcomes) => {
          const limits = createAdaptiveLimits({ initial, max })
          for (const [ok, ms] of outcomes) {
            limits.record('t', ok, ms)
            const l = limits.limit('t')
            if (!(l >= 1 && l <= max && Number.isInteger(l))) return false
          }
          return true
        },
      ),
    )
  })

  it('forgets the least recently used targets beyond maxTargets', () => {
    const limits = createAdaptiveLimits({ initial: 2, max: 50, maxTargets: 2 })
    for (let i = 0; i < 10; i++) limits.record('a', true, 1)
    limits.record('b', true, 1)
    limits.record('c', true, 1)
    assert.equal(limits.limit('a'), 2)
    assert.equal(limits.limit('b'), 3)
  })
})
