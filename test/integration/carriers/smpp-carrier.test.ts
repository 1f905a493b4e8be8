// The SMPP connector against the simulator over real sockets on 127.0.0.1.

import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { InboundMessage, Receipt, SubmitRequest } from '../../../src/carriers/carrier.ts'
import {
  isPermanentCarrierError,
  isThrottledError,
  isTransientCarrierError,
  SmppStatus,
} from '../../../src/carriers/errors.ts'
import type { SmppCarrier } from '../../../src/carriers/smpp/smpp-carrier.ts'
import { type BoundCarrier, bindSmpp, startSim, waitFor } from './helpers.ts'

let seq = 0
function req(body: string, extra: Partial<SubmitRequest> = {}): SubmitRequest {
  seq++
  return {
    messageId: `0190a3c4-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    to: '+14155550123',
    from: 'ACME',
    body,
    encoding: 'GSM-7',
    registeredDelivery: true,
    ...extra,
  }
}

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

  it('submits, and the delivered receipt comes back matched to the carrier id', async () => {
    const { carrier } = await connect()
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    const r = req('Your code is 481516')
    const { carrierIds } = await carrier.submit(r)
    assert.equal(carrierIds.length, 1)
    const receipt = await waitFor(() => receipts.find((x) => x.carrierId === carrierIds[0]), 'the receipt')
    assert.equal(receipt.status, 'delivered')
    assert.ok(receipt.doneAt instanceof Date)
    assert.match(receipt.raw ?? '', /stat:DELIVRD/)
    const [sent] = sim.submits()
    assert.equal(sent?.messageId, r.messageId)
    assert.equal(sent?.to, '14155550123')
    assert.equal(sent?.text, 'Your code is 481516')
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

  it('maps ESME_RTHROTTLED to ThrottledError', async () => {
    sim.setOptions({ throughputPerSec: 1, receipts: false })
    const { carrier } = await connect()
    await carrier.submit(req('first'))
    const err = await carrier.submit(req('second')).then(
      () => assert.fail('expected throttling'),
      (e: unknown) => e,
    )
    assert.ok(isThrottledError(err))
    assert.equal(err.carrierStatus, SmppStatus.ESME_RTHROTTLED)
    assert.equal(err.carrier, 'sim-smpp')
    assert.equal(sim.counters().rejected.throttled, 1)
  })

  it('maps ESME_RSYSERR to TransientCarrierError and ESME_RINVDSTADR to PermanentCarrierError', async () => {
    const { carrier } = await connect()
    sim.setOptions({ transientErrorRate: 1 })
    const transient = await carrier.submit(req('a')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(transient))
    assert.equal(transient.carrierStatus, SmppStatus.ESME_RSYSERR)
    sim.setOptions({ transientErrorRate: 0, permanentErrorRate: 1 })
    const permanent = await carrier.submit(req('b')).catch((e: unknown) => e)
    assert.ok(isPermanentCarrierError(permanent))
    assert.equal(permanent.code, 'invalid_destination')
    assert.equal(permanent.carrierStatus, SmppStatus.ESME_RINVDSTADR)
    // The bind survives submit errors.
    assert.ok(carrier.healthy())
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

  it('MO deliver_sm (GSM-7, UCS-2, long via message_payload) → onInbound', async () => {
    const { carrier } = await connect()
    const got: InboundMessage[] = []
    carrier.onInbound((m) => got.push(m))
    await sim.sendInbound({ from: '+447700900123', to: '12345', body: 'STOP {now} €' })
    await sim.sendInbound({ from: '+447700900123', to: '12345', body: 'Да, подтверждаю 👍' })
    const long = 'L'.repeat(400)
    await sim.sendInbound({ from: '+447700900123', to: '12345', body: long })
    assert.deepEqual(
      got.map((m) => [m.from, m.to, m.body]),
      [
        ['+447700900123', '12345', 'STOP {now} €'],
        ['+447700900123', '12345', 'Да, подтверждаю 👍'],
        ['+447700900123', '12345', long],
      ],
    )
    assert.ok(got.every((m) => m.receivedAt instanceof Date))
    assert.equal(sim.counters().inboundSent, 3)
  })

  it('a receipt the listener cannot take is refused with ESME_RX_T_APPN and redelivered', async () => {
    const { carrier, events } = await connect()
    let calls = 0
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => {
      calls++
      if (calls === 1) throw new Error('database down')
      receipts.push(r)
    })
    const { carrierIds } = await carrier.submit(req('retry me'))
    await waitFor(() => receipts.find((r) => r.carrierId === carrierIds[0]), 'the redelivered receipt')
    assert.equal(calls, 2)
    assert.ok(events.some((e) => e.type === 'listener_failed'))
    await waitFor(() => sim.counters().receiptsSent === 1, 'the simulator to see the receipt acknowledged')
  })

  it('submits while unbound reject with TransientCarrierError', async () => {
    const { carrier } = await bindSmpp(sim, { port: 1 }, false)
    open.push(carrier)
    const err = await carrier.submit(req('nowhere')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(err))
    assert.equal(err.code, 'not_bound')
    assert.equal(carrier.healthy(), false)
    const { carrier: closed } = await connect()
    await closed.close()
    const after = await closed.submit(req('late')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(after))
    assert.equal(after.code, 'carrier_closed')
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
