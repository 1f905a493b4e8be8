// The SMPP link over time: outages, reconnect backoff, enquire_link, receipts held across a rebind.

import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Receipt } from '../../../src/carriers/carrier.ts'
import { isTransientCarrierError, isUnconfirmedSubmitError } from '../../../src/carriers/errors.ts'
import type { SmppCarrier } from '../../../src/carriers/smpp/smpp-carrier.ts'
import { loadSmpp } from '../../../src/carriers/smpp/smpp-types.ts'
import { type BoundCarrier, bindSmpp, startSim, submitRequest, waitFor } from './helpers.ts'

const req = (body: string) => submitRequest(body, { from: '+14155550100' })

describe('SMPP link resilience', () => {
  let sim: Awaited<ReturnType<typeof startSim>>
  const open: SmppCarrier[] = []

  async function connect(cfg: Parameters<typeof bindSmpp>[1] = {}): Promise<BoundCarrier> {
    const b = await bindSmpp(sim, cfg)
    open.push(b.carrier)
    return b
  }

  before(async () => {
    sim = await startSim()
  })
  beforeEach(() => sim.reset())
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()))
  })
  after(async () => {
    await sim.close()
  })

  it('outage: an in-flight submit ends unconfirmed (the carrier had it), new ones fail transient and unsent; rebinds back off exponentially and recover', async () => {
    const { carrier, events } = await connect({ reconnect: { initialMs: 20, maxMs: 1000, jitter: false } })
    sim.setOptions({ latencyMs: 10_000 })
    const inFlight = carrier.submit(req('caught in the outage')).catch((e: unknown) => e)
    await waitFor(() => sim.counters().smpp.inFlight === 1, 'the submit to reach the carrier')

    sim.setOptions({ outage: true, latencyMs: 0 })
    const lost = await inFlight
    // Written and never answered: the carrier may have it, so it must not be sent again.
    assert.ok(isUnconfirmedSubmitError(lost))
    assert.equal(lost.code, 'connection_lost')
    await waitFor(() => !carrier.healthy(), 'the bind to drop')
    const refused = await carrier.submit(req('during the outage')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(refused))
    assert.equal(refused.code, 'not_bound')
    assert.equal(refused.unsent, true)

    await waitFor(() => sim.counters().smpp.bindsRefused >= 4, 'four refused rebinds')
    const delays = events.flatMap((e) => (e.type === 'reconnect_scheduled' ? [e.delayMs] : []))
    assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 160])

    sim.setOptions({ outage: false })
    await waitFor(() => carrier.healthy(), 'the rebind after the outage')
    assert.equal(sim.counters().smpp.binds, 2)
    const { carrierIds } = await carrier.submit(req('after the outage'))
    assert.equal(carrierIds.length, 1)
    // A successful bind resets the backoff.
    sim.setOptions({ outage: true })
    await waitFor(() => !carrier.healthy(), 'the second drop')
    const next = events.filter((e) => e.type === 'reconnect_scheduled').at(-1)
    assert.deepEqual(next, { type: 'reconnect_scheduled', attempt: 1, delayMs: 20 })
  })

  it('a receipt due while the bind is down is held and delivered after the rebind', async () => {
    const { carrier } = await connect({ reconnect: { initialMs: 20, maxMs: 100, jitter: false } })
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    sim.setOptions({ receiptDelayMs: 200 })
    const { carrierIds } = await carrier.submit(req('deliver me later'))
    sim.setOptions({ outage: true })
    await waitFor(() => sim.counters().receiptsQueued === 1, 'the receipt to wait for a bind')
    assert.equal(receipts.length, 0)
    sim.setOptions({ outage: false })
    const r = await waitFor(() => receipts.find((x) => x.carrierId === carrierIds[0]), 'the held receipt')
    assert.equal(r.status, 'delivered')
    assert.equal(sim.counters().receiptsQueued, 0)
  })

  it('enquire_link keeps an idle bind alive where the carrier drops silent sessions', async () => {
    sim.setOptions({ idleTimeoutMs: 150 })
    const { carrier } = await connect({ enquireLinkMs: 40 })
    // Ten links at 40 ms span well over two idle timeouts.
    await waitFor(() => sim.counters().smpp.enquireLinks >= 10, 'ten enquire_links', 5000)
    const c = sim.counters()
    assert.equal(c.smpp.idleDrops, 0)
    assert.equal(c.smpp.binds, 1)
    assert.ok(carrier.healthy())
  })

  it('without enquire_link the same carrier drops the idle bind, and the connector rebinds', async () => {
    sim.setOptions({ idleTimeoutMs: 100 })
    const { events } = await connect({ enquireLinkMs: 0 })
    await waitFor(
      () => sim.counters().smpp.idleDrops >= 1 && sim.counters().smpp.binds >= 2,
      'an idle drop and rebind',
    )
    assert.ok(events.some((e) => e.type === 'disconnected'))
  })

  it('an SMSC that stops answering enquire_link is detected and the link rebuilt', async () => {
    // A bare SMSC that binds anyone but never answers enquire_link: a half-dead link.
    const smpp = loadSmpp()
    let binds = 0
    const mute = smpp.createServer({}, (session) => {
      session.on('error', () => undefined)
      session.on('pdu', (pdu) => {
        if (pdu.command === 'bind_transceiver') {
          binds++
          session.send(pdu.response({ system_id: 'mute' }))
        }
      })
    })
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    try {
      const port = (mute.address() as AddressInfo).port
      const { carrier, events } = await bindSmpp(sim, {
        port,
        enquireLinkMs: 30,
        responseTimeoutMs: 100,
        reconnect: { initialMs: 10, jitter: false },
      })
      open.push(carrier)
      await waitFor(() => binds >= 2, 'a rebind after the enquire_link timeout')
      assert.ok(events.some((e) => e.type === 'enquire_link_timeout'))
    } finally {
      for (const s of mute.sessions) s.destroy()
      await new Promise<void>((resolve) => mute.close(() => resolve()))
    }
  })
})
