import { Redis } from 'ioredis'
import type { TakeResult } from '../domain/token-bucket.ts'
import type { RateLimiter } from './rate-limiter.ts'

/**
 * The same token bucket as domain/token-bucket.ts, run atomically inside Redis so every api
 * process shares one bucket per customer. Redis's clock is used, not the callers'.
 * Returns {allowed, remaining, retry_after_ms, reset_ms}.
 */
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
local reset = math.ceil((burst - tokens) * 1000 / rate)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], reset + 1000)
return {allowed, math.floor(tokens), retry, reset}
`

export function createRedisRateLimiter(url: string, prefix = 'smsgw:rl:'): RateLimiter {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false })
  redis.defineCommand('smsgwTake', { numberOfKeys: 1, lua: TAKE })
  const take = (
    redis as unknown as { smsgwTake: (...a: (string | number)[]) => Promise<number[]> }
  ).smsgwTake.bind(redis)
  return {
    async take(key, ratePerSec, burst): Promise<TakeResult> {
      const [allowed, remaining, retryAfterMs, resetMs] = await take(prefix + key, ratePerSec, burst)
      return {
        allowed: allowed === 1,
        remaining: remaining ?? 0,
        retryAfterMs: retryAfterMs ?? 0,
        resetMs: resetMs ?? 0,
      }
    },
    async close() {
      await redis.quit()
    },
  }
}
