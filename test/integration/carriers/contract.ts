/**
 * The Carrier contract: what every adapter of the port (src/carriers/carrier.ts) shows against the
 * carrier simulator, whatever the protocol. Adapter-specific behaviour (SMPP window and UDH, link
 * backoff, HTTP timeouts and response cap) stays in the adapter's own test file.
 */
import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Carrier, InboundMessage, Receipt } from '../../../src/carriers/carrier.ts'
import {
  type CarrierErrorCode,
  isCarrierError,
  isPermanentCarrierError,
  isThrottledError,
  isTransientCarrierError,
} from '../../../src/carriers/errors.ts'
import type { SimOptions } from '../../../src/carriers/sim/options.ts'
import { submitRequest as req, type startSim, waitFor } from './helpers.ts'

export interface CarrierFixture {
  sim: Awaited<ReturnType<typeof startSim>>
  /** Simulator options the adapter needs in every test (where receipts go), applied after each reset. */
  simOptions: Partial<SimOptions>
  /** A new carrier, usable (healthy) once this resolves. The suite closes it. */
  connect(): Promise<Carrier>
  close(): Promise<void>
}

export interface CarrierUnderTest {
  /** The simulator endpoint this adapter speaks to (SubmitRecord.protocol, sendInbound's `via`). */
  protocol: 'smpp' | 'http'
  /** `carrierStatus` of the simulator's throttled, transient and permanent answers. */
  status: { throttled: number; transient: number; permanent: number }
  /** The permanent error: its code and what its message quotes of the carrier's answer. */
  permanent: { code: CarrierErrorCode; message: RegExp }
  /** `retryAfterMs` of the ThrottledError: the simulator's hint where the protocol carries one. */
  retryAfterMs: number | undefined
  setup(): Promise<CarrierFixture>
}

/** Rejection value of a promise that must reject. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => assert.fail(`expected a rejection, got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  )
}

export function carrierContract(name: string, adapter: CarrierUnderTest): void {
  describe(`carrier contract: ${name}`, () => {
    let fx: CarrierFixture
    const open: Carrier[] = []
    const sim = () => fx.sim
    /** Receipts this test's listeners took: each test ends once the carrier has every ack. */
    let taken = 0

    async function connect(): Promise<Carrier> {
      const c = await fx.connect()
      open.push(c)
      return c
    }

    /** Receipts handed to the carrier's listener, awaited by carrier id. */
    function collectReceipts(carrier: Carrier): (carrierId: string | undefined) => Promise<Receipt> {
      const got: Receipt[] = []
      carrier.onReceipt((r) => {
        got.push(r)
        taken++
      })
      return (id) => waitFor(() => got.find((r) => r.carrierId === id), `the receipt for ${id}`)
    }

    before(async () => {
      fx = await adapter.setup()
    })
    beforeEach(() => {
      sim().reset()
      sim().setOptions(fx.simOptions)
      taken = 0
    })
    afterEach(async () => {
      // The ack leaves after the listener resolves: without this wait it could land in the next
      // test's counters.
      await waitFor(() => sim().counters().receiptsSent >= taken, 'the carrier to have our acks')
      await Promise.all(open.splice(0).map((c) => c.close()))
    })
    after(async () => {
      await fx.close()
    })

    it('submit resolves with the id the carrier gave, once it took our message id and text', async () => {
      // Tests that take no receipt ask for none: an ack landing after the test would count in the next.
      sim().setOptions({ receipts: false })
      const carrier = await connect()
      const r = req('Your code is 481516')
      const { carrierIds } = await carrier.submit(r)
      assert.equal(carrierIds.length, 1)
      const [sent, ...more] = sim().submits()
      assert.deepEqual(more, [])
      assert.equal(sent?.protocol, adapter.protocol)
      assert.equal(sent?.verdict, 'accepted')
      assert.equal(sent?.messageId, r.messageId)
      assert.equal(sent?.text, r.body)
      assert.equal(sent?.carrierId, carrierIds[0])
    })

    it('a multipart message resolves with one id per part (or one for the whole), in part order, each receipted', async () => {
      const carrier = await connect()
      const receipt = collectReceipts(carrier)
      const body = 'x'.repeat(153 * 2 + 1) // 3 GSM-7 segments
      const { carrierIds } = await carrier.submit(req(body, { parts: 3 }))
      const accepted = sim().submits()
      assert.ok(carrierIds.length === 1 || carrierIds.length === 3, `${carrierIds.length} carrier ids`)
      assert.deepEqual(
        carrierIds,
        accepted.map((s) => s.carrierId),
      )
      assert.equal(new Set(carrierIds).size, carrierIds.length)
      assert.equal(accepted.map((s) => s.text).join(''), body)
      const c = sim().counters()
      assert.equal(c.uniqueMessageIds, 1)
      assert.deepEqual(c.duplicates, {})
      for (const id of carrierIds) assert.equal((await receipt(id)).status, 'delivered')
    })

    it('the delivered receipt reaches onReceipt matched to the carrier id, then the carrier has its ack', async () => {
      const carrier = await connect()
      const receipt = collectReceipts(carrier)
      const { carrierIds } = await carrier.submit(req('track me'))
      const r = await receipt(carrierIds[0])
      assert.equal(r.status, 'delivered')
      assert.equal(r.errorCode, undefined)
      assert.ok(r.doneAt instanceof Date)
      assert.ok(r.raw?.includes(carrierIds[0] ?? '-'), `raw ${r.raw} names the carrier id`)
      await waitFor(() => sim().counters().receiptsSent === 1, 'the carrier to see the receipt acknowledged')
      assert.ok(carrier.healthy())
    })

    for (const [outcome, errorCode] of [
      ['undelivered', '001'],
      ['expired', '002'],
    ] as const) {
      it(`receipts follow the carrier's outcome: ${outcome} with its error code`, async () => {
        sim().setOptions({ outcomeMix: { delivered: 0, undelivered: 0, expired: 0, [outcome]: 1 } })
        const carrier = await connect()
        const receipt = collectReceipts(carrier)
        const { carrierIds } = await carrier.submit(req('doomed'))
        const r = await receipt(carrierIds[0])
        assert.equal(r.status, outcome)
        assert.equal(r.errorCode, errorCode)
      })
    }

    it('a receipt the listener fails to take is delivered again, and acknowledged once taken', async () => {
      const carrier = await connect()
      let calls = 0
      const took: Receipt[] = []
      carrier.onReceipt((r) => {
        calls++
        if (calls === 1) throw new Error('database down')
        took.push(r)
        taken++
      })
      const { carrierIds } = await carrier.submit(req('retry me'))
      await waitFor(() => took.find((r) => r.carrierId === carrierIds[0]), 'the redelivered receipt')
      assert.equal(calls, 2)
      await waitFor(() => sim().counters().receiptsSent === 1, 'the carrier to see the receipt acknowledged')
    })

    it('maps the throughput cap to ThrottledError, a carrier fault to Transient, a bad number to Permanent', async () => {
      const carrier = await connect()
      sim().setOptions({ throughputPerSec: 1, receipts: false })
      await carrier.submit(req('one'))
      const throttled = await failure(carrier.submit(req('two')))
      assert.ok(isThrottledError(throttled), String(throttled))
      assert.equal(throttled.carrier, carrier.name)
      assert.equal(throttled.carrierStatus, adapter.status.throttled)
      assert.equal(throttled.retryAfterMs, adapter.retryAfterMs)

      sim().setOptions({ throughputPerSec: null, transientErrorRate: 1 })
      const transient = await failure(carrier.submit(req('three')))
      assert.ok(isTransientCarrierError(transient), String(transient))
      assert.equal(transient.code, 'carrier_error')
      assert.equal(transient.carrier, carrier.name)
      assert.equal(transient.carrierStatus, adapter.status.transient)

      sim().setOptions({ transientErrorRate: 0, permanentErrorRate: 1 })
      const permanent = await failure(carrier.submit(req('four')))
      assert.ok(isPermanentCarrierError(permanent), String(permanent))
      assert.equal(permanent.code, adapter.permanent.code)
      assert.equal(permanent.carrier, carrier.name)
      assert.equal(permanent.carrierStatus, adapter.status.permanent)
      assert.match(permanent.message, adapter.permanent.message)
      assert.deepEqual(sim().counters().rejected, {
        throttled: 1,
        transient: 1,
        permanent: 1,
        outage: 0,
        invalid: 0,
      })
      // One refused submit of each kind leaves the carrier usable.
      assert.ok(carrier.healthy())
      sim().setOptions({ permanentErrorRate: 0 })
      assert.equal((await carrier.submit(req('five'))).carrierIds.length, 1)
    })

    it('healthy() turns false during an outage, where submits fail transient; both recover after it', async () => {
      const carrier = await connect()
      sim().setOptions({ outage: true, receipts: false })
      // Some adapters notice a dead link at once, others only by failing submits: keep trying.
      await waitFor(async () => {
        if (carrier.healthy()) {
          const err = await failure(carrier.submit(req('probe')))
          assert.ok(isCarrierError(err), String(err))
        }
        return !carrier.healthy()
      }, 'healthy() to turn false in the outage')
      const down = await failure(carrier.submit(req('down')))
      assert.ok(isTransientCarrierError(down), String(down))
      assert.equal(down.carrier, carrier.name)
      assert.equal(carrier.healthy(), false)

      sim().setOptions({ outage: false })
      const back = await waitFor(
        () => carrier.submit(req('back')).catch(() => undefined),
        'a submit to succeed after the outage',
      )
      assert.equal(back.carrierIds.length, 1)
      assert.ok(carrier.healthy())
    })

    it('after close(), submit rejects transient and unsent, and nothing reaches the carrier', async () => {
      const carrier = await connect()
      await carrier.close()
      const before = sim().counters().submitsReceived
      const err = await failure(carrier.submit(req('late')))
      assert.ok(isTransientCarrierError(err), String(err))
      assert.equal(err.code, 'carrier_closed')
      assert.equal(err.unsent, true)
      assert.equal(carrier.healthy(), false)
      // Closing twice is harmless (shutdown paths overlap).
      await carrier.close()
      assert.equal(sim().counters().submitsReceived, before)
    })

    it('beforeWrite: awaited once before anything leaves when callsBeforeWrite, else never called', async () => {
      sim().setOptions({ receipts: false })
      const carrier = await connect()
      const seenAtCall: number[] = []
      const beforeWrite = async () => {
        seenAtCall.push(sim().counters().submitsReceived)
      }
      await carrier.submit(req('x'.repeat(200)), { beforeWrite })
      if (!carrier.callsBeforeWrite) {
        assert.deepEqual(seenAtCall, [])
        return
      }
      assert.deepEqual(seenAtCall, [0])
      // A rejection abandons the submit unsent.
      sim().resetCounters()
      const lost = new Error('claim lost')
      await assert.rejects(
        carrier.submit(req('abandoned'), {
          beforeWrite: async () => {
            throw lost
          },
        }),
        (e: unknown) => e === lost,
      )
      assert.equal(sim().counters().submitsReceived, 0)
      assert.ok(carrier.healthy())
    })

    it('MO reaches onInbound with its text whole (GSM-7 extension, non-GSM, longer than a segment)', async () => {
      const carrier = await connect()
      const got: InboundMessage[] = []
      carrier.onInbound((m) => got.push(m))
      const bodies = ['STOP {now} €', 'Да, подтверждаю 👍', 'L'.repeat(400)]
      for (const body of bodies) {
        await sim().sendInbound({ from: '+447700900123', to: '12345', body }, adapter.protocol)
      }
      assert.deepEqual(
        got.map((m) => [m.from, m.to, m.body]),
        bodies.map((body) => ['+447700900123', '12345', body]),
      )
      assert.ok(got.every((m) => m.receivedAt instanceof Date))
      assert.equal(sim().counters().inboundSent, 3)
    })
  })
}
