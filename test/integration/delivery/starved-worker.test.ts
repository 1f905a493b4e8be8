import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import type { Db } from '../../../src/db/db.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type SimProcess, startSimProcess } from '../../helpers/sim-process.ts'
import { finalStatuses, type SmppPipeline, startSmppPipeline } from '../../helpers/smpp-pipeline.ts'
import { waitFor } from '../../helpers/wait.ts'

const RESPONSE_TIMEOUT_MS = 2000
const STALL_MS = 4000

// Invariant 4 under CPU starvation: a submit_sm_resp that is late only because our own event loop
// was busy must not make the worker send the message again.
describe('a delivery worker whose event loop stalls mid-stream (PostgreSQL, SMPP simulator process)', () => {
  let sim: SimProcess
  let p: SmppPipeline
  let db: Db

  before(async () => {
    sim = await startSimProcess(['--latency-ms', '1-5', '--receipt-delay-ms', '50'])
    p = await startSmppPipeline({
      carriers: [simSmppCarrier('sim', sim.smppPort, { window: 20 })],
      // Shorter than the stall: measured in wall time, every submit in flight during the stall
      // would time out.
      responseTimeoutMs: RESPONSE_TIMEOUT_MS,
      // The circuit stays closed, so a timed-out submit is retried at once, as on a busy carrier
      // with many healthy messages between the timeouts.
      breaker: { failures: 1_000_000 },
    })
    db = p.db
  })
  after(async () => {
    await p?.close()
    await sim?.close()
  })

  const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]?.n)

  it('sends every message once and ends every message final after a stall longer than the response timeout', async () => {
    const N = 1500
    const customer = await fundedCustomer(db, { rateLimitMps: 100_000 })
    const ids = await acceptMany(db, customer, N, 'otp')
    const submitted = () => count("SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitted'")
    await waitFor(async () => (await submitted()) >= N / 4, 'a quarter submitted', 30_000)
    await waitFor(async () => (p.carriers.get('sim')?.stats().inFlight ?? 0) > 0, 'submits in flight', 30_000)
    // Submits are in flight on the bind right now; block the loop while the carrier answers them.
    const inFlight = p.carriers.get('sim')?.stats().inFlight
    const end = performance.now() + STALL_MS
    while (performance.now() < end) {
      // busy: the worker's event loop is starved
    }
    await finalStatuses(db, ids, 60_000)
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
