// `smsgw carrier-sim` originates MO traffic: at a rate, to the given numbers, over SMPP with
// multipart UCS-2 in UDH parts and STOP among the bodies; and answers a message sent from a number.

import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { InboundMessage } from '../../../src/carriers/carrier.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { parseMoTrafficArgs } from '../../../src/cli/carrier-sim.ts'
import { waitFor } from '../../helpers/wait.ts'

describe('carrier-sim MO traffic (SMPP)', () => {
  let sim: CarrierSim | undefined
  const closers: (() => Promise<void>)[] = []
  after(async () => {
    for (const c of closers) await c()
    await sim?.close()
  })

  it('parses the MO flags', () => {
    assert.equal(parseMoTrafficArgs([]), undefined)
    const o = parseMoTrafficArgs([
      '--mo-rate',
      '20',
      '--mo-to',
      '+14155550100, 72345',
      '--mo-body',
      'STOP',
      '--mo-body',
      'hi',
    ])
    assert.deepEqual(o, {
      ratePerSec: 20,
      to: ['+14155550100', '72345'],
      from: [],
      bodies: ['STOP', 'hi'],
      via: 'smpp',
      concat: 'udh',
    })
    assert.throws(() => parseMoTrafficArgs(['--mo-rate', '5']), /--mo-to/)
    assert.throws(() => parseMoTrafficArgs(['--mo-rate', '5', '--mo-to', '1', '--mo-via', 'x']), /--mo-via/)
  })

  it('originates MO at a rate with STOP and 3-part UCS-2 parts, and replies to a numeric sender', async () => {
    sim = await createCarrierSim({ replyBody: 'Sure!' })
    const carrier = createCarrier(simSmppCarrier('s', sim.smppPort, { window: 10 }))
    closers.push(() => carrier.close())
    const got: InboundMessage[] = []
    carrier.onInbound((m) => {
      got.push(m)
    })
    await waitFor(() => carrier.healthy(), 'bound')
    const long = `Ответ: ${'Спасибо за заказ! '.repeat(10)}`
    const traffic = sim.originate({ ratePerSec: 200, to: ['+14155550100'], bodies: ['STOP', long] })
    await waitFor(() => traffic.stats().sent >= 20, '20 MO sent', 20_000)
    await traffic.stop()
    assert.equal(traffic.stats().failed, 0)
    assert.ok(got.some((m) => m.body === 'STOP' && m.to === '+14155550100' && m.from.startsWith('+1415555')))
    const parts = got.filter((m) => m.part)
    assert.ok(parts.length >= 3, 'long bodies arrive in UDH parts')
    assert.ok(parts.every((m) => m.part?.total === 3))
    assert.ok(long.startsWith(parts.find((m) => m.part?.seq === 1)?.body ?? 'x'))

    got.length = 0
    await carrier.submit({
      messageId: '018f0000-0000-7000-8000-000000000001',
      to: '+14155550123',
      from: '+14155550100',
      body: 'coming?',
      encoding: 'GSM-7',
      registeredDelivery: false,
    })
    const reply = await waitFor(() => got.find((m) => m.body === 'Sure!'), 'the reply')
    assert.deepEqual([reply.from, reply.to], ['+14155550123', '+14155550100'])
  })
})
