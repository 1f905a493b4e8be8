import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createSmppCarrier, type SmppCarrier } from '../../../src/carriers/smpp/smpp-carrier.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { type SimProcess, startSimProcess } from '../../helpers/sim-process.ts'
import { until } from '../../helpers/wait.ts'

const RESPONSE_TIMEOUT_MS = 1000
const STALL_MS = 3000

// Invariant 4 under CPU starvation: a submit_sm_resp that is late only because our own event loop
// was busy must not make the worker send the message again.
describe('a delivery worker whose event loop stalls mid-stream (PostgreSQL, SMPP simulator process)', () => {
  let pg: FreshDatabase
  let db: Db
  let sim: SimProcess
  let bus: Bus
  let pipeline: Pipeline
  let carrier: SmppCarrier | undefined

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 6 })
    sim = await startSimProcess(['--latency-ms', '1-5', '--receipt-delay-ms', '50'])
    bus = createMemoryBus()
    pipeline = createPipeline({
      db,
      bus,
      carriers: [simSmppCarrier('sim', sim.smppPort, { window: 20 })],
      // A response timeout shorter than the stall: measured in wall time, every submit in flight
      // during the stall would time out.
      makeCarrier: (c) => {
        if (c.type !== 'smpp') throw new Error('smpp only')
        carrier = createSmppCarrier({
          name: c.name,
          host: c.host,
          port: c.port,
          systemId: c.system_id,
          password: c.password,
          window: c.window ?? 20,
          responseTimeoutMs: RESPONSE_TIMEOUT_MS,
        })
        return carrier
      },
      // The circuit stays closed, so a timed-out submit is retried at once, as on a busy carrier
      // with many healthy messages between the timeouts.
      breaker: { failures: 1_000_000 },
      worker: { baseBackoffMs: 10, maxBackoffMs: 50 },
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
  })
  after(async () => {
    await pipeline?.stop()
    await bus?.close()
    await sim?.close()
    await db?.close()
    await pg?.drop()
  })

  const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]?.n)

  it('sends every message once and ends every message final after a stall longer than the response timeout', async () => {
    const N = 1500
    const customer = await fundedCustomer(db, { rateLimitMps: 100_000 })
    await acceptMany(db, customer, N, 'otp')
    const submitted = () => count("SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitted'")
    await until(async () => ((await submitted()) >= N / 4 ? true : undefined), 'a quarter submitted')
    await until(async () => ((carrier?.stats().inFlight ?? 0) > 0 ? true : undefined), 'submits in flight')
    // Submits are in flight on the bind right now; block the loop while the carrier answers them.
    const inFlight = carrier?.stats().inFlight
    const end = performance.now() + STALL_MS
    while (performance.now() < end) {
      // busy: the worker's event loop is starved
    }
    await until(
      async () =>
        (await count(
          "SELECT count(*)::text AS n FROM messages WHERE status NOT IN ('delivered','undelivered','failed','rejected','expired','unknown')",
        )) === 0
          ? true
          : undefined,
      'every message final',
      60_000,
    )
    const c = await sim.counters()
    const unknown = await count("SELECT count(*)::text AS n FROM messages WHERE status = 'unknown'")
    const delivered = await count("SELECT count(*)::text AS n FROM messages WHERE status = 'delivered'")
    console.log(
      `starved worker: ${c.submitsReceived} submits, ${Object.keys(c.duplicates).length} duplicated, ` +
        `${delivered} delivered, ${unknown} unknown (stall ${STALL_MS} ms, response timeout ${RESPONSE_TIMEOUT_MS} ms, ${inFlight} in flight when it began)`,
    )
    assert.deepEqual(c.duplicates, {}, 'no message reached the carrier twice')
    assert.equal(c.uniqueMessageIds, N)
    // The carrier answered every submit within a few ms: none of them is really in doubt.
    assert.equal(unknown, 0)
    assert.equal(delivered, N)
  })
})
