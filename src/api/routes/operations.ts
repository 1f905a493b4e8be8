import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import type { Db } from '../../db/db.ts'
import { ApiError } from '../errors.ts'

const READY_TIMEOUT_MS = 2000

const sha256 = (s: string) => createHash('sha256').update(s).digest()

/**
 * Liveness, readiness (503 while the database is unreachable) and Prometheus metrics — unless
 * `metrics` is false (served elsewhere); with a token, /metrics wants `Authorization: Bearer <token>`.
 */
export const operationsRoutes: FastifyPluginAsync<{
  db: Db
  registry: Registry
  checks: Record<string, () => Promise<boolean>>
  metrics?: false | { token?: string | undefined }
}> = async (app, { db, registry, checks, metrics = {} }) => {
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }))

  app.get('/health/ready', { schema: { hide: true } }, async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        db.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('database timed out')), READY_TIMEOUT_MS)
        }),
      ])
      const results: Record<string, string> = { database: 'ok' }
      for (const [name, check] of Object.entries(checks))
        results[name] = (await check().catch(() => false)) ? 'ok' : 'unavailable'
      if (Object.values(results).some((r) => r !== 'ok')) {
        reply.header('retry-after', '1')
        return reply.code(503).send({ status: 'unavailable', checks: results })
      }
      return { status: 'ok', checks: results }
    } catch (err) {
      reply.header('retry-after', '1')
      return reply.code(503).send({ status: 'unavailable', checks: { database: (err as Error).message } })
    } finally {
      clearTimeout(timer)
    }
  })

  if (metrics === false) return
  const expected = metrics.token === undefined ? undefined : sha256(`Bearer ${metrics.token}`)
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected) {
      const sent = request.headers.authorization
      if (typeof sent !== 'string' || !timingSafeEqual(sha256(sent), expected)) {
        throw new ApiError(
          401,
          'unauthenticated',
          'GET /metrics needs Authorization: Bearer <SMSGW_METRICS_TOKEN>',
        )
      }
    }
    reply.type(registry.contentType)
    return registry.metrics()
  })
}
