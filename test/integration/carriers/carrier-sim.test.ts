// The simulator itself: duplicate counting per message id, options, the CLI, and the default carriers
// built from the carrier config against it.

import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import type { Carrier, SubmitRequest } from '../../../src/carriers/carrier.ts'
import { defaultSimCarriers } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { createHttpCarrier } from '../../../src/carriers/http/http-carrier.ts'
import { SimOptionsError } from '../../../src/carriers/sim/options.ts'
import { newWebhookSecret } from '../../../src/carriers/webhook-auth.ts'
import { parseCarrierSimArgs, runCarrierSim } from '../../../src/cli/carrier-sim.ts'
import { bindSmpp, startSim, waitFor } from './helpers.ts'

function req(messageId: string, body = 'hello'): SubmitRequest {
  return { messageId, to: '+14155550123', from: 'ACME', body, encoding: 'GSM-7', registeredDelivery: false }
}

describe('carrier simulator', () => {
  let sim: Awaited<ReturnType<typeof startSim>>
  const open: Carrier[] = []

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

  it('counts a message id submitted twice over SMPP as one duplicate (multipart counted per message)', async () => {
    const { carrier } = await bindSmpp(sim)
    open.push(carrier)
    await carrier.submit(req('m-1'))
    await carrier.submit(req('m-2', 'x'.repeat(400)))
    assert.deepEqual(sim.counters().duplicates, {})
    await carrier.submit(req('m-1'))
    await carrier.submit(req('m-2', 'x'.repeat(400)))
    const c = sim.counters()
    assert.deepEqual(c.duplicates, { 'm-1': 1, 'm-2': 1 })
    assert.equal(c.uniqueMessageIds, 2)
    assert.equal(c.accepted, 1 + 3 + 1 + 3)
  })

  it('counts duplicates over HTTP, and across SMPP and HTTP (a failover that double-sends)', async () => {
    const http = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl })
    const { carrier: smpp } = await bindSmpp(sim)
    open.push(http, smpp)
    await http.submit(req('h-1'))
    await http.submit(req('h-1'))
    await http.submit(req('h-1'))
    await smpp.submit(req('x-1'))
    await http.submit(req('x-1'))
    assert.deepEqual(sim.counters().duplicates, { 'h-1': 2, 'x-1': 1 })
  })

  it('rejected submits are not copies: a throttled first attempt and its retry count once', async () => {
    sim.setOptions({ throughputPerSec: 1 })
    const http = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl })
    open.push(http)
    await http.submit(req('t-0'))
    await assert.rejects(http.submit(req('t-1')))
    sim.setOptions({ throughputPerSec: null })
    await http.submit(req('t-1'))
    assert.deepEqual(sim.counters().duplicates, {})
    assert.equal(sim.counters().uniqueMessageIds, 2)
  })

  it('without the message-id TLV it falls back to a fingerprint of the first part', async () => {
    const { carrier } = await bindSmpp(sim, { messageIdTlv: false })
    open.push(carrier)
    await carrier.submit(req('ignored-1', 'same text'))
    await carrier.submit(req('ignored-2', 'same text'))
    await carrier.submit(req('ignored-3', 'other text'))
    const c = sim.counters()
    const keys = Object.keys(c.duplicates)
    assert.equal(keys.length, 1)
    assert.match(keys[0] ?? '', /^fp:[0-9a-f]{40}$/)
    assert.equal(c.uniqueMessageIds, 2)
    assert.equal(sim.submits()[0]?.messageId, undefined)
  })

  it('enforces configured credentials', async () => {
    sim.setOptions({ systemId: 'acme', password: 'pw' })
    const good = await bindSmpp(sim, { systemId: 'acme', password: 'pw' })
    open.push(good.carrier)
    const bad = await bindSmpp(sim, { systemId: 'mallory', password: 'pw' }, false)
    open.push(bad.carrier)
    await waitFor(() => bad.events.some((e) => e.type === 'bind_failed'), 'the refused bind')
    assert.equal(sim.counters().smpp.binds, 1)
  })

  it('validates options, naming the field, and leaves the old ones in force', () => {
    const bad: Array<[Parameters<typeof sim.setOptions>[0], RegExp]> = [
      [{ transientErrorRate: 1.5 }, /transientErrorRate/],
      [{ transientErrorRate: 0.6, permanentErrorRate: 0.6 }, /transientErrorRate/],
      [{ latencyMs: { min: 10, max: 5 } }, /latencyMs/],
      [{ throughputPerSec: 0 }, /throughputPerSec/],
      [{ outcomeMix: { delivered: 0, undelivered: 0, expired: 0 } }, /outcomeMix/],
      [{ dlrUrl: 'not a url' }, /dlrUrl/],
      [{ webhookSecret: 'hunter2' }, /webhookSecret/],
    ]
    for (const [patch, re] of bad) {
      assert.throws(
        () => sim.setOptions(patch),
        (e: unknown) => e instanceof SimOptionsError && re.test(e.message),
      )
    }
    assert.equal(sim.options().transientErrorRate, 0)
  })

  it('signs HTTP receipts and MO with its webhookSecret (Standard Webhooks), the same webhook-id on a retry', async () => {
    const secret = newWebhookSecret()
    const got: { headers: Record<string, string>; body: string }[] = []
    const receiver = createServer((r, res) => {
      const chunks: Buffer[] = []
      r.on('data', (c: Buffer) => chunks.push(c))
      r.on('end', () => {
        got.push({
          headers: r.headers as Record<string, string>,
          body: Buffer.concat(chunks).toString('utf8'),
        })
        // The first receipt attempt fails, so the retry shows the same id and a new signature.
        res.writeHead(got.length === 1 ? 503 : 202).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    try {
      const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
      sim.setOptions({ webhookSecret: secret, dlrUrl: `${base}/dlr`, inboundUrl: `${base}/inbound` })
      const http = createHttpCarrier({ name: 'sim-http', url: sim.httpUrl })
      open.push(http)
      await http.submit(req('signed-1'))
      await waitFor(() => got.length === 2, 'the receipt and its retry')
      await sim.sendInbound({ from: '+447700900123', to: '12345', body: 'hi' }, 'http')
      const wh = new Webhook(secret)
      for (const g of got) assert.doesNotThrow(() => wh.verify(g.body, g.headers), JSON.stringify(g.headers))
      assert.throws(() => new Webhook(newWebhookSecret()).verify(got[0]?.body ?? '', got[0]?.headers ?? {}))
      assert.equal(got[0]?.headers['webhook-id'], got[1]?.headers['webhook-id'])
      assert.notEqual(got[2]?.headers['webhook-id'], got[0]?.headers['webhook-id'])
    } finally {
      receiver.closeAllConnections()
      await new Promise<void>((resolve) => receiver.close(() => resolve()))
    }
  })

  it('the default carrier config drives both endpoints through createCarrier', async () => {
    const configs = defaultSimCarriers({
      host: sim.host,
      smppPort: sim.smppPort,
      httpPort: sim.httpPort,
      webhookSecret: newWebhookSecret(),
    })
    const carriers = configs.map((cfg) => createCarrier(cfg))
    open.push(...carriers)
    await waitFor(() => carriers.every((c) => c.healthy()), 'both carriers healthy')
    for (const [i, c] of carriers.entries()) await c.submit(req(`d-${i}`))
    const protocols = sim.submits().map((s) => s.protocol)
    assert.deepEqual(protocols, ['smpp', 'http'])
  })
})

describe('carrier-sim CLI', () => {
  it('parses flags into options', () => {
    const o = parseCarrierSimArgs([
      '--smpp-port=0',
      '--http-port',
      '0',
      '--latency-ms',
      '5-20',
      '--transient-error-rate',
      '0.01',
      '--throughput',
      '500',
      '--receipt-delay-ms',
      '100',
      '--outcome-mix',
      'delivered=90,undelivered=8,expired=2',
      '--no-receipts',
      '--dlr-url',
      'http://127.0.0.1:3000/v1/providers/sim-http/dlr',
      '--webhook-secret',
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ])
    assert.deepEqual(o, {
      host: '127.0.0.1',
      smppPort: 0,
      httpPort: 0,
      latencyMs: { min: 5, max: 20 },
      transientErrorRate: 0.01,
      throughputPerSec: 500,
      receiptDelayMs: 100,
      outcomeMix: { delivered: 90, undelivered: 8, expired: 2 },
      receipts: false,
      dlrUrl: 'http://127.0.0.1:3000/v1/providers/sim-http/dlr',
      webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    })
    assert.throws(() => parseCarrierSimArgs(['--latency-ms', 'fast']), /--latency-ms/)
    assert.throws(() => parseCarrierSimArgs(['--outcome-mix', 'lost=1']), /--outcome-mix/)
    assert.throws(() => parseCarrierSimArgs(['--bogus']), SimOptionsError)
  })

  it('runCarrierSim starts the simulator and prints its ports', async () => {
    const lines: string[] = []
    const sim = await runCarrierSim(
      ['--smpp-port', '0', '--http-port', '0', '--permanent-error-rate', '0.5'],
      (l) => lines.push(l),
    )
    try {
      const info = JSON.parse(lines.at(-1) ?? '{}') as { smpp_port: number; http_port: number }
      assert.equal(info.smpp_port, sim.smppPort)
      assert.equal(info.http_port, sim.httpPort)
      assert.ok(sim.smppPort > 0 && sim.httpPort > 0)
      assert.equal(sim.options().permanentErrorRate, 0.5)
      const health = await fetch(`http://127.0.0.1:${sim.httpPort}/health`)
      assert.equal(health.status, 200)
    } finally {
      await sim.close()
    }
  })
})
