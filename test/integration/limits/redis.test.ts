import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createRedisRateLimiter } from '../../../src/limits/redis-rate-limiter.ts'
import { rateLimiterContract } from './contract.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const freshPrefix = () => `smsgw:test:rl:${randomBytes(6).toString('hex')}:`

rateLimiterContract('redis', () => createRedisRateLimiter(REDIS_URL, freshPrefix()))

describe('redis rate limiter', () => {
  it('limiters sharing a prefix share each bucket, atomically', async () => {
    const prefix = freshPrefix()
    const limiters = [1, 2, 3].map(() => createRedisRateLimiter(REDIS_URL, prefix))
    try {
      const burst = 10
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => limiters[i % limiters.length]?.take('hot', 0.1, burst)),
      )
      assert.equal(results.filter((r) => r?.allowed).length, burst)
      // Another prefix is another set of buckets.
      const other = createRedisRateLimiter(REDIS_URL, freshPrefix())
      limiters.push(other)
      assert.ok((await other.take('hot', 0.1, burst)).allowed)
    } finally {
      await Promise.all(limiters.map((l) => l.close()))
    }
  })
})
