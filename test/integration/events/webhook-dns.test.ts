// DNS of webhook delivery: names are resolved by c-ares with a timeout and a bound on lookups in
// flight, so endpoints behind a black-hole DNS server (here a loopback UDP socket that never
// answers) fail their attempt quickly instead of holding libuv's 4 threads. Nothing is dialled.

import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { after, before, describe, it } from 'node:test'
import { createWebhookSender } from '../../../src/events/webhook-sender.ts'

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
const payload = { id: 'evt_01JQ0000000000000000000000', body: '{}' }

/** The name asked in a DNS query: labels after the 12-byte header. */
function queryName(msg: Buffer): string {
  const labels: string[] = []
  let i = 12
  while (i < msg.length && msg[i] !== 0) {
    const n = msg[i] as number
    labels.push(msg.subarray(i + 1, i + 1 + n).toString('ascii'))
    i += n + 1
  }
  return labels.join('.')
}

describe('webhook DNS', () => {
  let blackHole: Socket
  let server: string
  const asked: string[] = []

  before(async () => {
    blackHole = createSocket('udp4')
    blackHole.on('message', (msg) => asked.push(queryName(msg)))
    await new Promise<void>((r) => blackHole.bind(0, '127.0.0.1', r))
    server = `127.0.0.1:${blackHole.address().port}`
  })
  after(() => blackHole.close())

  it('a black-hole DNS server fails the attempt at the DNS timeout; lookups in flight are bounded', async () => {
    const dialled: string[] = []
    const sender = createWebhookSender({
      allowInsecure: false,
      dnsServers: [server],
      dnsTimeoutMs: 100,
      maxLookups: 1,
      onConnect: (a) => dialled.push(a),
    })
    try {
      const [a, b] = await Promise.all([
        sender.send({ key: 'a', url: 'https://a.hooks.test/x' }, payload, [SECRET]),
        sender.send({ key: 'b', url: 'https://b.hooks.test/x' }, payload, [SECRET]),
      ])
      for (const outcome of [a, b]) {
        assert.equal(outcome.kind, 'retry', JSON.stringify(outcome))
        assert.match((outcome as { error: string }).error, /ETIMEOUT/)
      }
      assert.deepEqual(dialled, [])
      // The resolver asked our server, and one name at a time: every query of one came first.
      const names = asked.filter((n) => n.endsWith('hooks.test'))
      assert.ok(names.length >= 4, JSON.stringify(names))
      const firstOther = names.findIndex((n) => n !== names[0])
      assert.ok(firstOther > 0 && names.slice(firstOther).every((n) => n !== names[0]), JSON.stringify(names))
    } finally {
      await sender.close()
    }
  })
})
