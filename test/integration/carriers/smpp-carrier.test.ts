// The SMPP connector against the simulator over real sockets on 127.0.0.1: what only SMPP shows
// (addresses, UDH, the window, part retries, binds). What every carrier shows is in contract.ts.

import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Receipt } from '../../../src/carriers/carrier.ts'
import { isTransientCarrierError, SmppStatus } from '../../../src/carriers/errors.ts'
import type { SmppCarrier } from '../../../src/carriers/smpp/smpp-carrier.ts'
import { type BoundCarrier, bindSmpp, submitRequest as req, startSim, waitFor } from './helpers.ts'

describe('SMPP carrier', () => {
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

  it('a GSM-7 submit_sm carries the number without "+" and data_coding 0; the receipt keeps the DLR text', async () => {
    const { carrier } = await connect()
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    const { carrierIds } = await carrier.submit(req('Your code is 481516'))
    const receipt = await waitFor(() => receipts.find((x) => x.carrierId === carrierIds[0]), 'the receipt')
    assert.match(receipt.raw ?? '', /stat:DELIVRD/)
    const [sent] = sim.submits()
    assert.equal(sent?.to, '14155550123')
    assert.equal(sent?.dataCoding, 0)
  })

  it('a 3-part UCS-2 message is 3 submit_sm with UDH concatenation and gets 3 receipts', async () => {
    const { carrier } = await connect()
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    const body = 'Ваш код подтверждения: 4815. Никому его не сообщайте! '.repeat(3) // 165 units
    const { carrierIds } = await carrier.submit(req(body, { encoding: 'UCS-2' }))
    assert.equal(carrierIds.length, 3)
    assert.equal(new Set(carrierIds).size, 3)
    const parts = sim.submits()
    assert.equal(parts.length, 3)
    const ref = parts[0]?.concat?.ref
    parts.forEach((p, i) => {
      assert.deepEqual(p.concat, { ref, total: 3, seq: i + 1 })
      assert.equal(p.esmClass, 0x40)
      assert.equal(p.dataCoding, 8)
      assert.equal(p.carrierId, carrierIds[i])
    })
    assert.equal(parts.map((p) => p.text).join(''), body)
    await waitFor(() => carrierIds.every((id) => receipts.some((r) => r.carrierId === id)), '3 receipts')
    assert.equal(sim.counters().uniqueMessageIds, 1)
  })

  it('never has more than `window` submit_sm outstanding (measured at the simulator)', async () => {
    sim.setOptions({ latencyMs: { min: 20, max: 40 }, receipts: false })
    const { carrier } = await connect({ window: 3 })
    const peak = { waiting: 0 }
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => carrier.submit(req(`msg ${i}`))))
    await waitFor(() => {
      peak.waiting = Math.max(peak.waiting, carrier.stats().waiting)
      return sim.counters().smpp.inFlight === 3
    }, 'the window to fill')
    const results = await all
    assert.equal(results.length, 20)
    const c = sim.counters()
    assert.equal(c.accepted, 20)
    assert.equal(c.smpp.maxInFlight, 3)
    assert.ok(peak.waiting > 0, 'callers beyond the window waited')
    assert.equal(carrier.stats().inFlight, 0)
  })

  it('a later part of a multipart message that is throttled is retried alone, never the whole message', async () => {
    sim.setOptions({ throughputPerSec: 2, receipts: false })
    const { carrier } = await connect()
    const before = sim.counters()
    const { carrierIds } = await carrier.submit(req('x'.repeat(153 * 2 + 1)))
    assert.equal(carrierIds.length, 3)
    const after = sim.counters()
    assert.ok(after.rejected.throttled > before.rejected.throttled, 'the third part was throttled first')
    assert.equal(after.accepted - before.accepted, 3, 'each part accepted once')
    assert.deepEqual(after.duplicates, before.duplicates)
  })

  it('a receipt the listener cannot take is refused (ESME_RX_T_APPN) and reported as listener_failed', async () => {
    const { carrier, events } = await connect()
    let calls = 0
    carrier.onReceipt(() => {
      calls++
      if (calls === 1) throw new Error('database down')
    })
    await carrier.submit(req('retry me'))
    await waitFor(
      () => events.some((e) => e.type === 'listener_failed'),
      'the listener failure to be reported',
    )
    // That the receipt then comes again and is acknowledged is in the contract (contract.ts).
    await waitFor(() => calls === 2, 'the receipt to come again')
  })

  it('submits while unbound reject with TransientCarrierError not_bound', async () => {
    const { carrier } = await bindSmpp(sim, { port: 1 }, false)
    open.push(carrier)
    const err = await carrier.submit(req('nowhere')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(err))
    assert.equal(err.code, 'not_bound')
    assert.equal(carrier.healthy(), false)
  })

  it('a refused bind (bad password) is reported and retried, never healthy', async () => {
    sim.setOptions({ systemId: 'smsgw', password: 'right' })
    const { carrier, events } = await bindSmpp(sim, { password: 'wrong' }, false)
    open.push(carrier)
    await waitFor(() => events.filter((e) => e.type === 'bind_failed').length >= 2, 'two refused binds')
    const failed = events.find((e) => e.type === 'bind_failed')
    assert.deepEqual(failed, { type: 'bind_failed', status: SmppStatus.ESME_RINVPASWD })
    assert.equal(carrier.healthy(), false)
    assert.equal(sim.counters().smpp.binds, 0)
  })
})
