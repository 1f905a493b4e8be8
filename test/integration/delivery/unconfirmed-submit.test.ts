import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { finalStatuses, type SmppPipeline, startSmppPipeline } from '../../helpers/smpp-pipeline.ts'
import { waitFor } from '../../helpers/wait.ts'

// A carrier that really does not answer in time: the submits went out, so it may have them.
// They are not sent again (invariant 4) and end `unknown`, charged.
describe('a submit_sm the carrier does not answer in time (PostgreSQL, SMPP simulator)', () => {
  let sim: CarrierSim
  let p: SmppPipeline

  before(async () => {
    // Answers (accepting every submit) well after the connector stops waiting.
    sim = await createCarrierSim({ latencyMs: 1500, receiptDelayMs: 10 })
    p = await startSmppPipeline({
      carriers: [simSmppCarrier('sim', sim.smppPort, { window: 20 })],
      responseTimeoutMs: 200,
      breaker: { failures: 1_000_000 },
    })
  })
  after(async () => {
    await p?.close()
    await sim?.close()
  })

  it('is sent once and ends unknown, not refunded', async () => {
    const N = 10
    const customer = await fundedCustomer(p.db)
    const ids = await acceptMany(p.db, customer, N, 'otp')
    const final = await finalStatuses(p.db, ids)
    // Everything the carrier was sent has been answered by now, so every copy is counted.
    await waitFor(async () => sim.counters().smpp.inFlight === 0, 'the late answers', 30_000)
    const c = sim.counters()
    assert.deepEqual(c.duplicates, {}, 'a timed-out submit was sent again')
    assert.equal(c.submitsReceived, N)
    assert.deepEqual(
      final,
      ids.map(() => 'unknown'),
    )
    const { rows: ledger } = await p.db.query<{ kind: string; n: number }>(
      'SELECT kind, count(*)::int AS n FROM ledger WHERE message_id = ANY($1::uuid[]) GROUP BY kind',
      [ids],
    )
    assert.deepEqual(ledger, [{ kind: 'charge', n: N }], 'charged, not refunded: the carrier may have them')
  })
})

describe('a carrier that stops answering submits (PostgreSQL, two SMPP simulators)', () => {
  let silent: CarrierSim
  let good: CarrierSim
  let p: SmppPipeline

  before(async () => {
    silent = await createCarrierSim({ latencyMs: 60_000 })
    good = await createCarrierSim({ receiptDelayMs: 10 })
    p = await startSmppPipeline({
      carriers: [
        simSmppCarrier('silent', silent.smppPort, { window: 5, weight: 1_000_000 }),
        simSmppCarrier('good', good.smppPort, { window: 5, weight: 1 }),
      ],
      // Generous, so the good carrier never times out on a loaded machine.
      responseTimeoutMs: 1000,
      breaker: { failures: 3, halfOpenAfterMs: 60_000 },
    })
  })
  after(async () => {
    await p?.close()
    await silent?.close()
    await good?.close()
  })

  it('opens its circuit: the messages it swallowed end unknown, the rest go to the other carrier', async () => {
    const N = 40
    const customer = await fundedCustomer(p.db)
    const final = await finalStatuses(p.db, await acceptMany(p.db, customer, N, 'otp'))
    const unknown = final.filter((s) => s === 'unknown').length
    const delivered = final.filter((s) => s === 'delivered').length
    assert.equal(unknown + delivered, N)
    assert.equal(unknown, silent.counters().submitsReceived, 'unknown: exactly what the silent carrier got')
    assert.ok(delivered >= N - 20, `${delivered} delivered: the circuit opened and traffic moved`)
    assert.deepEqual(good.counters().duplicates, {})
  })
})
