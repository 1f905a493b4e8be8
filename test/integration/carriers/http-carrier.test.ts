// The HTTP connector against the simulator's HTTP endpoint; receipts come back to a stand-in for our
// provider route, which hands the JSON to handleReceipt as the real route will.

import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { InboundMessage, Receipt, SubmitRequest, WebhookCarrier } from '../../../src/carriers/carrier.ts'
import {
  CarrierPayloadError,
  isPermanentCarrierError,
  isThrottledError,
  isTransientCarrierError,
} from '../../../src/carriers/errors.ts'
import { createHttpCarrier } from '../../../src/carriers/http/http-carrier.ts'
import { startSim, waitFor } from './helpers.ts'

let seq = 0
function req(body: string): SubmitRequest {
  seq++
  return {
    messageId: `0190a3c4-0000-7000-a000-${String(seq).padStart(12, '0')}`,
    to: '+14155550123',
    from: 'ACME',
    body,
    encoding: 'GSM-7',
    registeredDelivery: true,
  }
}

/** Our provider endpoints in miniature: POST /v1/providers/{name}/dlr and /inbound. */
async function startProviderRoutes(carrier: () => WebhookCarrier): Promise<{ server: Server; base: string }> {
  const server = createServer((request, res) => {
    const chunks: Buffer[] = []
    request.on('data', (c: Buffer) => chunks.push(c))
    request.on('end', async () => {
      try {
        const json: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        if (request.url?.endsWith('/dlr')) await carrier().handleReceipt(json)
        else await carrier().handleInbound(json)
        res.writeHead(204).end()
      } catch (err) {
        res.writeHead(err instanceof CarrierPayloadError ? 400 : 500).end(String(err))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return { server, base: `http://127.0.0.1:${port}/v1/providers/sim-http` }
}

describe('HTTP carrier', () => {
  let sim: Awaited<ReturnType<typeof startSim>>
  let carrier: WebhookCarrier
  let routes: { server: Server; base: string }

  before(async () => {
    sim = await startSim()
    routes = await startProviderRoutes(() => carrier)
  })
  beforeEach(() => {
    sim.reset()
    sim.setOptions({ dlrUrl: `${routes.base}/dlr`, inboundUrl: `${routes.base}/inbound` })
    carrier = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl })
  })
  afterEach(async () => {
    await carrier.close()
  })
  after(async () => {
    await sim.close()
    routes.server.closeAllConnections()
    await new Promise<void>((resolve) => routes.server.close(() => resolve()))
  })

  it('posts {id,to,from,body,encoding}, gets the carrier id, and the receipt arrives via the DLR route', async () => {
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    const r = req('Your code is 481516')
    const { carrierIds } = await carrier.submit(r)
    assert.equal(carrierIds.length, 1)
    const [sent] = sim.submits()
    assert.equal(sent?.protocol, 'http')
    assert.equal(sent?.messageId, r.messageId)
    assert.equal(sent?.text, r.body)
    const receipt = await waitFor(() => receipts.find((x) => x.carrierId === carrierIds[0]), 'the receipt')
    assert.equal(receipt.status, 'delivered')
    assert.ok(receipt.doneAt instanceof Date)
    await waitFor(() => sim.counters().receiptsSent === 1, 'the DLR POST to be acknowledged')
    assert.ok(carrier.healthy())
  })

  it('receipts follow the outcome mix', async () => {
    sim.setOptions({ outcomeMix: { delivered: 0, undelivered: 1, expired: 0 } })
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    const { carrierIds } = await carrier.submit(req('doomed'))
    const receipt = await waitFor(() => receipts.find((x) => x.carrierId === carrierIds[0]), 'the receipt')
    assert.equal(receipt.status, 'undelivered')
    assert.equal(receipt.errorCode, '001')
  })

  it('maps 429 → ThrottledError (with Retry-After), 503 → Transient, 400 → Permanent', async () => {
    sim.setOptions({ throughputPerSec: 1, receipts: false })
    await carrier.submit(req('one'))
    const throttled = await carrier.submit(req('two')).catch((e: unknown) => e)
    assert.ok(isThrottledError(throttled))
    assert.equal(throttled.carrierStatus, 429)
    assert.equal(throttled.retryAfterMs, 1000)

    sim.setOptions({ throughputPerSec: null, transientErrorRate: 1 })
    const transient = await carrier.submit(req('three')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(transient))
    assert.equal(transient.carrierStatus, 503)
    assert.equal(transient.code, 'carrier_error')

    sim.setOptions({ transientErrorRate: 0, permanentErrorRate: 1 })
    const permanent = await carrier.submit(req('four')).catch((e: unknown) => e)
    assert.ok(isPermanentCarrierError(permanent))
    assert.equal(permanent.carrierStatus, 400)
    assert.match(permanent.message, /invalid_destination/)
    assert.deepEqual(sim.counters().rejected, {
      throttled: 1,
      transient: 1,
      permanent: 1,
      outage: 0,
      invalid: 0,
    })
  })

  it('outage and timeouts are transient; repeated transient failures turn healthy() false until a success', async () => {
    await carrier.close()
    carrier = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl, timeoutMs: 5000, unhealthyAfter: 2 })
    sim.setOptions({ outage: true, receipts: false })
    const down = await carrier.submit(req('down')).catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(down))
    assert.equal(down.code, 'connection_failed')
    assert.ok(carrier.healthy())
    await assert.rejects(carrier.submit(req('still down')), isTransientCarrierError)
    assert.equal(carrier.healthy(), false)
    sim.setOptions({ outage: false })
    await carrier.submit(req('back'))
    assert.ok(carrier.healthy())

    const impatient = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl, timeoutMs: 200 })
    try {
      sim.setOptions({ latencyMs: 60_000 })
      const slow = await impatient.submit(req('slow')).catch((e: unknown) => e)
      assert.ok(isTransientCarrierError(slow))
      assert.equal(slow.code, 'timeout')
    } finally {
      await impatient.close()
    }
  })

  it('MO posted by the carrier reaches onInbound; a bad payload is a 400 that reaches no listener', async () => {
    const got: InboundMessage[] = []
    carrier.onInbound((m) => got.push(m))
    await sim.sendInbound({ from: '+447700900123', to: '12345', body: 'STOP' }, 'http')
    assert.deepEqual(
      got.map((m) => [m.from, m.to, m.body]),
      [['+447700900123', '12345', 'STOP']],
    )
    const res = await fetch(`${routes.base}/dlr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ carrier_id: 'x', status: 'teleported' }),
    })
    assert.equal(res.status, 400)
    assert.match(await res.text(), /status/)
  })
})

describe('HTTP carrier response bodies are capped', () => {
  let server: Server
  let url: string
  /** How the last response ended at the server: written whole, or cut off by the client. */
  let ended: Promise<'finished' | 'cut off'>
  let declareLength = false

  before(async () => {
    server = createServer((_req, res) => {
      // A submit answer that never ends: today's connector reads until its timeout. Only the
      // client hanging up stops it.
      ended = new Promise((resolve) => {
        res.on('finish', () => resolve('finished'))
        res.on('close', () => resolve(res.writableFinished ? 'finished' : 'cut off'))
      })
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(declareLength ? { 'content-length': String(1024 ** 3) } : {}),
      })
      res.write('{"carrier_ids":["c-1"],"pad":"')
      // 16 KiB a millisecond at most, so a client that reads it all is slow, not out of memory.
      const piece = Buffer.alloc(16 * 1024, 'x')
      const more = () => {
        if (res.destroyed) return
        if (res.write(piece)) setTimeout(more, 1)
        else res.once('drain', more)
      }
      more()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/messages`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  for (const declared of [false, true]) {
    it(`an endless answer (${declared ? 'with a 1 GiB' : 'without'} Content-Length) fails as transient invalid_response after 64 KiB`, {
      timeout: 30_000,
    }, async () => {
      declareLength = declared
      const carrier = createHttpCarrier({ name: 'big', url, timeoutMs: 5000 })
      try {
        const err = await carrier.submit(req('hi')).catch((e: unknown) => e)
        assert.ok(isTransientCarrierError(err), String(err))
        assert.equal(err.code, 'invalid_response')
        assert.match(err.message, /exceeds 65536/)
        assert.equal(await ended, 'cut off')
      } finally {
        await carrier.close()
      }
    })
  }
})
