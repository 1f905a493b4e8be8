/**
 * The RateLimiter contract: every adapter (in-process, Redis) passes the same tests. Each test gets
 * its own limiter (on Redis: its own key prefix). Rates are small so that time passing during a
 * test refills nothing that matters; where a test waits for a refill it waits on the limiter's
 * answer with a deadline, and no test asserts how fast anything ran.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RateLimiter } from '../../../src/limits/rate-limiter.ts'
import { waitFor } from '../../helpers/wait.ts'

/** A fresh limiter whose buckets no other test sees. */
export type MakeLimiter = () => RateLimiter

export function rateLimiterContract(name: string, make: MakeLimiter): void {
  const withLimiter = (fn: (l: RateLimiter) => Promise<void>) => async () => {
    const limiter = make()
    try {
      await fn(limiter)
    } finally {
      await limiter.close()
    }
  }

  describe(`rate limiter contract: ${name}`, () => {
    it(
      'allows a burst, then refuses with retryAfter to the next token and reset to a full bucket',
      withLimiter(async (l) => {
        const rate = 1
        const burst = 3
        const first = await l.take('c', rate, burst)
        assert.deepEqual(
          { allowed: first.allowed, remaining: first.remaining, retryAfterMs: first.retryAfterMs },
          { allowed: true, remaining: 2, retryAfterMs: 0 },
        )
        assert.ok(first.resetMs > 0 && first.resetMs <= 1000, `reset ${first.resetMs}`)
        const rest = [await l.take('c', rate, burst), await l.take('c', rate, burst)]
        assert.deepEqual(
          rest.map((r) => [r.allowed, r.remaining]),
          [
            [true, 1],
            [true, 0],
          ],
        )
        const refused = await l.take('c', rate, burst)
        assert.equal(refused.allowed, false)
        assert.equal(refused.remaining, 0)
        assert.ok(
          refused.retryAfterMs > 0 && refused.retryAfterMs <= 1000,
          `retryAfter ${refused.retryAfterMs}`,
        )
        // Whatever time passed, a full bucket is (burst - 1) tokens after the next one.
        assert.ok(
          Math.abs(refused.resetMs - refused.retryAfterMs - ((burst - 1) * 1000) / rate) <= 1,
          `reset ${refused.resetMs}, retryAfter ${refused.retryAfterMs}`,
        )
        // A refusal takes nothing: the wait does not grow.
        const again = await l.take('c', rate, burst)
        assert.equal(again.allowed, false)
        assert.ok(again.retryAfterMs <= refused.retryAfterMs)
      }),
    )

    it(
      'refills over time, never beyond the burst',
      withLimiter(async (l) => {
        const rate = 10
        assert.ok((await l.take('r', rate, 1)).allowed)
        const refused = await l.take('r', rate, 1)
        assert.equal(refused.allowed, false)
        assert.ok(refused.retryAfterMs <= 100, `retryAfter ${refused.retryAfterMs}`)
        const refilled = await waitFor(
          async () => {
            const r = await l.take('r', rate, 1)
            return r.allowed && r
          },
          'a token to refill',
          2000,
          10,
        )
        assert.equal(refilled.remaining, 0)

        // Idle long enough to refill several times over: still only `burst` at once.
        const slow = 5
        const burst = 2
        const empty = [await l.take('idle', slow, burst), await l.take('idle', slow, burst)]
        assert.ok(empty.every((r) => r.allowed))
        const fullAt = Date.now() + (empty[1]?.resetMs ?? 0) + (2 * 1000) / slow
        await waitFor(() => Date.now() >= fullAt, 'the bucket to be full twice over', 5000, 20)
        const takes = await Promise.all([1, 2, 3].map(() => l.take('idle', slow, burst)))
        assert.equal(takes.filter((r) => r.allowed).length, burst)
      }),
    )

    it(
      'keys are independent',
      withLimiter(async (l) => {
        assert.ok((await l.take('a', 1, 1)).allowed)
        assert.equal((await l.take('a', 1, 1)).allowed, false)
        const b = await l.take('b', 1, 1)
        assert.ok(b.allowed)
        assert.equal(b.remaining, 0)
        assert.equal((await l.take('a', 1, 1)).allowed, false)
        assert.equal((await l.take('b', 1, 1)).allowed, false)
      }),
    )

    it(
      'concurrent takes never exceed the budget',
      withLimiter(async (l) => {
        // One token per ten seconds: the budget of this test is the burst.
        const burst = 10
        const results = await Promise.all(Array.from({ length: 60 }, () => l.take('hot', 0.1, burst)))
        assert.equal(results.filter((r) => r.allowed).length, burst)
        const remaining = results.filter((r) => r.allowed).map((r) => r.remaining)
        // Each token went to exactly one caller.
        assert.deepEqual(
          [...remaining].sort((a, b) => a - b),
          Array.from({ length: burst }, (_, i) => i),
        )
      }),
    )

    it('close() resolves', async () => {
      const l = make()
      await l.take('x', 1, 1)
      await l.close()
    })
  })
}
