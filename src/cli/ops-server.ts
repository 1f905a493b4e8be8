import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { operationsRoutes } from '../api/routes/operations.ts'
import type { Db } from '../db/db.ts'

/** Health and metrics for a process without the api (`smsgw dispatcher`, `smsgw worker`). */
export async function startOpsServer(opts: {
  db: Db
  registry: Registry
  checks: Record<string, () => Promise<boolean>>
  port: number
  host: string
}): Promise<{ app: FastifyInstance; address: string }> {
  const app = Fastify({ logger: false })
  await app.register(operationsRoutes, { db: opts.db, registry: opts.registry, checks: opts.checks })
  const address = await app.listen({ port: opts.port, host: opts.host })
  return { app, address }
}
