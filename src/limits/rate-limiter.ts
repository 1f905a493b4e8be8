import { type Bucket, type TakeResult, takeToken } from '../domain/token-bucket.ts'

/** Per-customer message rate limits: the port, with in-process and Redis adapters. */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket (refill `ratePerSec`, capacity `burst`). */
  take(key: string, ratePerSec: number, burst: number): Promise<TakeResult>
  close(): Promise<void>
}

/** One process's buckets; correct only with a single api process (REDIS_URL shares them). */
export function createMemoryRateLimiter(now = Date.now, maxKeys = 200_000): RateLimiter {
  const buckets = new Map<string, Bucket>()
  return {
    async take(key, ratePerSec, burst) {
      const { bucket, result } = takeToken(buckets.get(key), now(), ratePerSec, burst)
      if (buckets.size >= maxKeys && !buckets.has(key)) buckets.clear()
      buckets.set(key, bucket)
      return result
    },
    async close() {},
  }
}
