// The simulator itself: duplicate counting per message id, options, the CLI, and the default carriers
// built from the carrier config against it.

import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Carrier, SubmitRequest } from '../../../src/carriers/carrier.ts'
import { defaultSimCarriers } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { createHttpCarrier } from '../../../src/carriers/http/http-carrier.ts'
import { parseCarrierSimArgs, runCarrierSim } from '../../../src/carriers/sim/cli.ts'
import { SimOptionsError } from '../../../src/carriers/sim/options.ts'
import { newWebhookSecret } from '../../../src/carriers/webhook-auth.ts'
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
    ]
    for (const [patch, re] of bad) {
      assert.throws(
        () => sim.setOptions(patch),
        (e: unknown) => e instanceof SimOptionsError && re.test(e.message),
      )
    }
    assert.equal(sim.options().transientErrorRate, 0)
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
