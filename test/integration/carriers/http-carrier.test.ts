// The HTTP connector against the simulator's HTTP endpoint: what only HTTP shows (counting failures
// for healthy(), timeouts, the response cap, payload errors). What every carrier shows, receipts
// and MO through a stand-in for our provider routes included, is in contract.ts.

import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Receipt, WebhookCarrier } from '../../../src/carriers/carrier.ts'
import { isTransientCarrierError } from '../../../src/carriers/errors.ts'
import { createHttpCarrier } from '../../../src/carriers/http/http-carrier.ts'
import { type ProviderRoutes, submitRequest as req, startProviderRoutes, startSim } from './helpers.ts'

describe('HTTP carrier', () => {
  let sim: Awaited<ReturnType<typeof startSim>>
  let carrier: WebhookCarrier
  let routes: ProviderRoutes

  before(async () => {
    sim = await startSim()
    routes = await startProviderRoutes('sim-http', () => carrier)
  })
  beforeEach(() => {
    sim.reset()
    carrier = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl })
  })
  afterEach(async () => {
    await carrier.close()
  })
  after(async () => {
    await sim.close()
    await routes.close()
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

  it('the timeout fires even when garbage collection runs while the carrier is silent', async () => {
    // On Node 20, AbortSignal.timeout inside AbortSignal.any can be collected before it fires
    // (nodejs/node#57736): the submit then waited for the carrier (60 s instead of 200 ms).
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const impatient = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl, timeoutMs: 300 })
    try {
      sim.setOptions({ latencyMs: 5_000 })
      const slow = impatient.submit(req('slow, with collections')).catch((e: unknown) => e)
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 20))
        gc()
      }
      const err = await slow
      assert.ok(isTransientCarrierError(err), String(err))
      assert.equal(err.code, 'timeout')
    } finally {
      await impatient.close()
    }
  })

  it('a receipt payload we cannot read is a 400 that reaches no listener', async () => {
    const receipts: Receipt[] = []
    carrier.onReceipt((r) => receipts.push(r))
    const res = await fetch(`${routes.base}/dlr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ carrier_id: 'x', status: 'teleported' }),
    })
    assert.equal(res.status, 400)
    assert.match(await res.text(), /status/)
    assert.deepEqual(receipts, [])
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
