import type { Bus } from '../../src/bus/bus.ts'
import { createMemoryBus } from '../../src/bus/memory-bus.ts'
import type { SmppCarrierEntry } from '../../src/carriers/config.ts'
import { createSmppCarrier, type SmppCarrier } from '../../src/carriers/smpp/smpp-carrier.ts'
import type { Db } from '../../src/db/db.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import type { BreakerOptions } from '../../src/delivery/carrier-links.ts'
import { createPipeline, type Pipeline } from '../../src/delivery/pipeline.ts'
import { type FreshDatabase, freshDatabase } from './pg.ts'
import { waitFor } from './wait.ts'

export interface SmppPipeline {
  db: Db
  pipeline: Pipeline
  /** The SMPP connectors, by carrier name. */
  carriers: Map<string, SmppCarrier>
  close(): Promise<void>
}

/**
 * A fresh database and a started dispatcher + worker (in-process bus) over SMPP connectors with
 * the given response timeout; fast retries.
 */
export async function startSmppPipeline(opts: {
  carriers: SmppCarrierEntry[]
  responseTimeoutMs: number
  breaker: BreakerOptions
}): Promise<SmppPipeline> {
  const pg: FreshDatabase = await freshDatabase()
  const db = createPostgresDb({ url: pg.url, poolSize: 6 })
  const bus: Bus = createMemoryBus()
  const carriers = new Map<string, SmppCarrier>()
  const pipeline = createPipeline({
    db,
    bus,
    carriers: opts.carriers,
    makeCarrier: (c) => {
      if (c.type !== 'smpp') throw new Error('smpp only')
      const carrier = createSmppCarrier({
        name: c.name,
        host: c.host,
        port: c.port,
        systemId: c.system_id,
        password: c.password,
        window: c.window ?? 10,
        responseTimeoutMs: opts.responseTimeoutMs,
      })
      carriers.set(c.name, carrier)
      return carrier
    },
    breaker: opts.breaker,
    worker: { baseBackoffMs: 10, maxBackoffMs: 50 },
    dispatcher: { idleMs: 5 },
  })
  await pipeline.start()
  return {
    db,
    pipeline,
    carriers,
    async close() {
      await pipeline.stop()
      await bus.close()
      await db.close()
      await pg.drop()
    },
  }
}

/** Resolves with the statuses of `ids` once none is still on its way. */
export function finalStatuses(db: Db, ids: string[], ms = 30_000): Promise<string[]> {
  return waitFor(
    async () => {
      const { rows } = await db.query<{ status: string }>(
        'SELECT status FROM messages WHERE id = ANY($1::uuid[])',
        [ids],
      )
      return rows.every((r) => !['queued', 'scheduled', 'sending', 'sent'].includes(r.status))
        ? rows.map((r) => r.status)
        : undefined
    },
    'every message final',
    ms,
    20,
  )
}
