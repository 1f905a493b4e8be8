// SSRF guard of webhook delivery: forbidden addresses are refused after DNS resolution and before
// any connection is opened (no traffic ever leaves loopback here: refused addresses are never
// dialled, which onConnect and a counting local server prove), and redirects are not followed.

import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { refuseUrl } from '../../../src/events/webhook-address.ts'
import { type AttemptOutcome, createWebhookSender } from '../../../src/events/webhook-sender.ts'
import { type Receiver, startReceiver } from '../../helpers/webhook-receiver.ts'

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
const payload = { id: 'evt_01JQ0000000000000000000000', body: '{"id":"evt_01JQ0000000000000000000000"}' }

describe('webhook SSRF guard', () => {
  let tcp: Server
  let tcpPort: number
  let tcpConnections = 0
  let rx: Receiver

  before(async () => {
    // A plain TCP listener on loopback: any connection attempt to it is counted.
    tcp = createServer((s) => {
      tcpConnections++
      s.destroy()
    })
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r))
    tcpPort = (tcp.address() as { port: number }).port
    rx = await startReceiver()
  })
  after(async () => {
    await new Promise<void>((r) => tcp.close(() => r()))
    await rx.close()
  })

  const attempt = async (url: string, allowInsecure: boolean) => {
    const dialled: string[] = []
    const refused: string[] = []
    const sender = createWebhookSender({
      allowInsecure,
      timeoutMs: 2000,
      onConnect: (a) => dialled.push(a),
      onRefused: (_url, detail) => refused.push(detail),
    })
    try {
      const outcome = await sender.send({ key: url, url }, payload, [SECRET])
      return { outcome, dialled, refused }
    } finally {
      await sender.close()
    }
  }
  const assertRefused = (outcome: AttemptOutcome, dialled: string[]) => {
    assert.equal(outcome.kind, 'final', JSON.stringify(outcome))
    // What is stored and shown to the customer names no address (internal DNS stays internal).
    assert.equal((outcome as { error: string }).error, 'destination address not allowed')
    assert.deepEqual(dialled, [], 'no connection was attempted')
  }

  it('refuses 127.0.0.1 unless insecure webhooks are allowed, without connecting', async () => {
    const before = tcpConnections
    const { outcome, dialled } = await attempt(`https://127.0.0.1:${tcpPort}/hook`, false)
    assertRefused(outcome, dialled)
    assert.equal(tcpConnections, before)
  })

  it('refuses a name that resolves to loopback (localhost), at lookup', async () => {
    const before = tcpConnections
    const { outcome, dialled, refused } = await attempt(`https://localhost:${tcpPort}/hook`, false)
    assertRefused(outcome, dialled)
    // The operator gets the detail.
    assert.equal(refused.length, 1)
    assert.match(refused[0] ?? '', /webhook_address_forbidden: localhost resolves to .*(127\.0\.0\.1|::1)/)
    assert.equal(tcpConnections, before)
  })

  it('refuses an IPv4-mapped IPv6 loopback address', async () => {
    const { outcome, dialled } = await attempt(`https://[::ffff:127.0.0.1]:${tcpPort}/hook`, false)
    assertRefused(outcome, dialled)
  })

  it('refuses 10.0.0.1 (private) before dialling it', async () => {
    const { outcome, dialled } = await attempt('https://10.0.0.1/hook', false)
    assertRefused(outcome, dialled)
  })

  it('refuses 169.254.169.254 (metadata) even when insecure webhooks are allowed', async () => {
    const { outcome, dialled } = await attempt('http://169.254.169.254/latest/meta-data/', true)
    assertRefused(outcome, dialled)
  })

  it('does not follow a 302 to a private address', async () => {
    rx.setBehavior('/redirect', () => ({ status: 302, headers: { location: 'http://10.0.0.1/steal' } }))
    const { outcome, dialled } = await attempt(rx.url('/redirect'), true)
    assert.equal(outcome.kind, 'final')
    assert.equal((outcome as { statusCode: number }).statusCode, 302)
    assert.deepEqual(dialled, ['127.0.0.1'], 'only the receiver itself was dialled')
  })

  it('refuses forbidden URLs when they are saved', () => {
    const strict = { allowInsecure: false }
    assert.match(refuseUrl('http://hooks.example.com/x', strict) ?? '', /https/)
    assert.match(refuseUrl('https://10.0.0.1/x', strict) ?? '', /private/)
    assert.match(refuseUrl('https://169.254.169.254/x', { allowInsecure: true }) ?? '', /metadata/)
    assert.match(refuseUrl('https://localhost/x', strict) ?? '', /loopback/)
    assert.match(refuseUrl('https://user:pw@hooks.example.com/x', strict) ?? '', /credentials/)
    assert.match(refuseUrl('ftp://hooks.example.com/x', { allowInsecure: true }) ?? '', /http/)
    assert.equal(refuseUrl('https://hooks.example.com/x', strict), undefined)
    assert.equal(refuseUrl('http://127.0.0.1:8080/x', { allowInsecure: true }), undefined)
  })
})
