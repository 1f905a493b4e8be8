import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { operationsRoutes } from '../api/routes/operations.ts'
import type { Db } from '../db/db.ts'

/**
 * Health and metrics on a port of their own: for a process without the api (`smsgw dispatcher`,
 * `smsgw worker`), or beside the api when SMSGW_METRICS_PORT keeps /metrics off the public port.
 */
export async function startOpsServer(opts: {
  db: Db
  registry: Registry
  checks: Record<string, () => Promise<boolean>>
  port: number
  host: string
  /** When set, /metrics wants `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined
}): Promise<{ app: FastifyInstance; address: string }> {
  const app = Fastify({ logger: false })
  await app.register(operationsRoutes, {
    db: opts.db,
    registry: opts.registry,
    checks: opts.checks,
    metrics: { token: opts.metricsToken },
  })
  const address = await app.listen({ port: opts.port, host: opts.host })
  return { app, address }
}
