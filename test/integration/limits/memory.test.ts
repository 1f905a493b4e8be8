import { createMemoryRateLimiter } from '../../../src/limits/rate-limiter.ts'
import { rateLimiterContract } from './contract.ts'

rateLimiterContract('memory', () => createMemoryRateLimiter())
