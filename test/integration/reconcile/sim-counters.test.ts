// GET /counters on the simulator's HTTP port: what `smsgw reconcile --sim` reads.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createHttpCarrier } from '../../../src/carriers/http/http-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import type { SimCounters } from '../../../src/carriers/sim/counters.ts'
import { bindSmpp } from '../carriers/helpers.ts'

const req = (messageId: string, body = 'hello') => ({
  messageId,
  to: '+14155550123',
  from: 'ACME',
  body,
  encoding: 'GSM-7' as const,
  registeredDelivery: false,
})

describe('carrier simulator GET /counters', () => {
  let sim: CarrierSim
  before(async () => {
    sim = await createCarrierSim()
  })
  after(async () => sim?.close())

  const counters = async () => {
    const res = await fetch(`http://127.0.0.1:${sim.httpPort}/counters`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /application\/json/)
    return (await res.json()) as SimCounters
  }

  it('answers the counters snapshot, duplicates included, over both endpoints, and counts no submit itself', async () => {
    assert.deepEqual(await counters(), sim.counters())
    const http = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl })
    const { carrier: smpp } = await bindSmpp(sim)
    try {
      await http.submit(req('h-1'))
      await http.submit(req('h-1'))
      await smpp.submit(req('s-1', 'x'.repeat(400)))
      await http.submit(req('s-1'))
    } finally {
      await Promise.all([http.close(), smpp.close()])
    }
    const c = await counters()
    assert.deepEqual(c.duplicates, { 'h-1': 1, 's-1': 1 })
    assert.equal(c.uniqueMessageIds, 2)
    assert.equal(c.accepted, 1 + 1 + 3 + 1)
    // 3 HTTP submits + 3 SMPP parts: the GETs were not counted as submits.
    assert.equal(c.submitsReceived, 6)
  })
})
