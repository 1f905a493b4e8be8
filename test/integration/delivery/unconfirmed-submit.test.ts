import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import type { CarrierConfig } from '../../../src/carriers/config.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { createSmppCarrier } from '../../../src/carriers/smpp/smpp-carrier.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { until } from '../../helpers/wait.ts'

const withTimeout = (c: CarrierConfig, responseTimeoutMs: number) => {
  if (c.type !== 'smpp') throw new Error('smpp only')
  return createSmppCarrier({
    name: c.name,
    host: c.host,
    port: c.port,
    systemId: c.system_id,
    password: c.password,
    window: c.window ?? 10,
    responseTimeoutMs,
  })
}

const finalStatuses = (db: Db, ids: string[]) =>
  until(async () => {
    const { rows } = await db.query<{ status: string }>(
      'SELECT status FROM messages WHERE id = ANY($1::uuid[])',
      [ids],
    )
    return rows.every((r) => !['queued', 'sending', 'sent'].includes(r.status)) ? rows : undefined
  }, 'every message final')

// A carrier that really does not answer in time: the submits went out, so it may have them.
// They are not sent again (invariant 4) and end `unknown`, charged.
describe('a submit_sm the carrier does not answer in time (PostgreSQL, SMPP simulator)', () => {
  let pg: FreshDatabase
  let db: Db
  let sim: CarrierSim
  let bus: Bus
  let pipeline: Pipeline

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 4 })
    // Answers (accepting every submit) well after the connector stops waiting.
    sim = await createCarrierSim({ latencyMs: 1500, receiptDelayMs: 10 })
    bus = createMemoryBus()
    pipeline = createPipeline({
      db,
      bus,
      carriers: [simSmppCarrier('sim', sim.smppPort, { window: 20 })],
      makeCarrier: (c) => withTimeout(c, 200),
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

  it('is sent once and ends unknown, not refunded', async () => {
    const N = 10
    const customer = await fundedCustomer(db)
    const ids = await acceptMany(db, customer, N, 'otp')
    const final = await finalStatuses(db, ids)
    // Everything the carrier was sent has been answered by now, so every copy is counted.
    await until(async () => (sim.counters().smpp.inFlight === 0 ? true : undefined), 'the late answers')
    const c = sim.counters()
    assert.deepEqual(c.duplicates, {}, 'a timed-out submit was sent again')
    assert.equal(c.submitsReceived, N)
    assert.deepEqual(
      final.map((r) => r.status),
      ids.map(() => 'unknown'),
    )
    const { rows: ledger } = await db.query<{ kind: string; n: number }>(
      'SELECT kind, count(*)::int AS n FROM ledger WHERE message_id = ANY($1::uuid[]) GROUP BY kind',
      [ids],
    )
    assert.deepEqual(ledger, [{ kind: 'charge', n: N }], 'charged, not refunded: the carrier may have them')
  })
})

describe('a carrier that stops answering submits (PostgreSQL, two SMPP simulators)', () => {
  let pg: FreshDatabase
  let db: Db
  let silent: CarrierSim
  let good: CarrierSim
  let bus: Bus
  let pipeline: Pipeline

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 4 })
    silent = await createCarrierSim({ latencyMs: 60_000 })
    good = await createCarrierSim({ receiptDelayMs: 10 })
    bus = createMemoryBus()
    pipeline = createPipeline({
      db,
      bus,
      carriers: [
        simSmppCarrier('silent', silent.smppPort, { window: 5, weight: 1_000_000 }),
        simSmppCarrier('good', good.smppPort, { window: 5, weight: 1 }),
      ],
      makeCarrier: (c) => withTimeout(c, 200),
      breaker: { failures: 3, halfOpenAfterMs: 60_000 },
      worker: { baseBackoffMs: 10, maxBackoffMs: 50 },
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
  })
  after(async () => {
    await pipeline?.stop()
    await bus?.close()
    await silent?.close()
    await good?.close()
    await db?.close()
    await pg?.drop()
  })

  it('opens its circuit: the messages it swallowed end unknown, the rest go to the other carrier', async () => {
    const N = 40
    const customer = await fundedCustomer(db)
    const ids = await acceptMany(db, customer, N, 'otp')
    const final = await finalStatuses(db, ids)
    const unknown = final.filter((r) => r.status === 'unknown').length
    const delivered = final.filter((r) => r.status === 'delivered').length
    assert.equal(unknown + delivered, N)
    assert.equal(unknown, silent.counters().submitsReceived, 'unknown: exactly what the silent carrier got')
    assert.ok(delivered >= N - 20, `${delivered} delivered: the circuit opened and traffic moved`)
    assert.deepEqual(good.counters().duplicates, {})
  })
})
