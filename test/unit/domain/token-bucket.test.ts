import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { type Bucket, takeToken } from '../../../src/domain/token-bucket.ts'

describe('takeToken', () => {
  it('starts full and drains one token per take', () => {
    const first = takeToken(undefined, 1000, 10, 3)
    assert.deepEqual(first.result, { allowed: true, remaining: 2, retryAfterMs: 0, resetMs: 100 })
    assert.deepEqual(first.bucket, { tokens: 2, updatedAt: 1000 })
    const second = takeToken(first.bucket, 1000, 10, 3)
    assert.deepEqual(second.result, { allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 200 })
    const third = takeToken(second.bucket, 1000, 10, 3)
    assert.deepEqual(third.result, { allowed: true, remaining: 0, retryAfterMs: 0, resetMs: 300 })
    const denied = takeToken(third.bucket, 1000, 10, 3)
    assert.deepEqual(denied.result, { allowed: false, remaining: 0, retryAfterMs: 100, resetMs: 300 })
    assert.deepEqual(denied.bucket, third.bucket)
  })

  it('refills at the configured rate, capped at burst', () => {
    const empty: Bucket = { tokens: 0, updatedAt: 0 }
    assert.equal(takeToken(empty, 50, 10, 5).result.allowed, false)
    assert.equal(takeToken(empty, 50, 10, 5).result.retryAfterMs, 50)
    assert.deepEqual(takeToken(empty, 100, 10, 5).result, {
      allowed: true,
      remaining: 0,
      retryAfterMs: 0,
      resetMs: 500,
    })
    const later = takeToken(empty, 60_000, 10, 5)
    assert.deepEqual(later.result, { allowed: true, remaining: 4, retryAfterMs: 0, resetMs: 100 })
  })

  it('does not mutate the input bucket', () => {
    const bucket: Bucket = Object.freeze({ tokens: 2, updatedAt: 0 })
    takeToken(bucket, 500, 1, 5)
    assert.deepEqual(bucket, { tokens: 2, updatedAt: 0 })
  })

  it('does not refill when the clock goes backwards', () => {
    const bucket: Bucket = { tokens: 0, updatedAt: 10_000 }
    const r = takeToken(bucket, 5_000, 1, 5)
    assert.equal(r.result.allowed, false)
    assert.deepEqual(r.bucket, { tokens: 0, updatedAt: 10_000 })
  })

  it('supports fractional rates', () => {
    const bucket: Bucket = { tokens: 0, updatedAt: 0 }
    assert.equal(takeToken(bucket, 0, 0.5, 1).result.retryAfterMs, 2000)
    assert.equal(takeToken(bucket, 2000, 0.5, 1).result.allowed, true)
  })

  it('rejects invalid configuration', () => {
    assert.throws(() => takeToken(undefined, 0, 0, 1), RangeError)
    assert.throws(() => takeToken(undefined, 0, -1, 1), RangeError)
    assert.throws(() => takeToken(undefined, 0, Number.NaN, 1), RangeError)
    assert.throws(() => takeToken(undefined, 0, 1, 0.5), RangeError)
    assert.throws(() => takeToken(undefined, 0, 1, Number.POSITIVE_INFINITY), RangeError)
    assert.throws(() => takeToken(undefined, Number.NaN, 1, 1), RangeError)
  })
})

describe('takeToken properties', () => {
  const config = fc.record({
    rate: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.01, max: 1000, noNaN: true })),
    burst: fc.integer({ min: 1, max: 100 }),
  })
  // Mostly forward steps, some simultaneous requests, occasionally a clock step backwards.
  const steps = fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 0, max: 50 }) },
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 5000 }) },
      { weight: 1, arbitrary: fc.integer({ min: -1000, max: 0 }) },
    ),
    { maxLength: 150 },
  )

  it('never allows more than burst + rate * elapsed in any window', () => {
    fc.assert(
      fc.property(config, steps, ({ rate, burst }, deltas) => {
        let bucket: Bucket | undefined
        let now = 1_000_000
        // The bucket starts at its first reading, so the model's clock does too.
        let clock = Number.NEGATIVE_INFINITY
        const times: number[] = []
        const allowed: boolean[] = []
        for (const d of deltas) {
          now += d
          // Time the bucket may credit is bounded by the latest clock reading seen so far.
          clock = Math.max(clock, now)
          const r = takeToken(bucket, now, rate, burst)
          bucket = r.bucket
          times.push(clock)
          allowed.push(r.result.allowed)
          assert.ok(r.bucket.tokens >= 0 && r.bucket.tokens <= burst)
          assert.ok(r.result.remaining >= 0 && r.result.remaining <= burst - 1)
        }
        for (let i = 0; i < times.length; i++) {
          let count = 0
          for (let j = i; j < times.length; j++) {
            if (allowed[j]) count++
            const bound = burst + (rate * ((times[j] ?? 0) - (times[i] ?? 0))) / 1000
            assert.ok(count <= bound + 1e-6, `window ${i}..${j}: ${count} > ${bound}`)
          }
        }
      }),
    )
  })

  it('a request retried after retryAfterMs is allowed, and after resetMs the bucket is full', () => {
    fc.assert(
      fc.property(config, steps, ({ rate, burst }, deltas) => {
        let bucket: Bucket | undefined
        let now = 0
        for (const d of deltas) {
          now += Math.max(0, d)
          const { result, bucket: next } = takeToken(bucket, now, rate, burst)
          if (!result.allowed) {
            assert.equal(takeToken(next, now + result.retryAfterMs, rate, burst).result.allowed, true)
          }
          const full = takeToken(next, now + result.resetMs, rate, burst)
          assert.equal(full.result.remaining, burst - 1)
          bucket = next
        }
      }),
    )
  })
})
