// Connection pools of webhook delivery: one per target and origin, so the maxPools LRU closes the
// idle connections of a customer's many callback hosts (loopback only).

import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createWebhookSender } from '../../../src/events/webhook-sender.ts'

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
const payload = { id: 'evt_01JQ0000000000000000000000', body: '{}' }

interface Host {
  server: Server
  url: string
  closed: Promise<void>
}

/** A loopback receiver answering 200 with keep-alive; `closed` settles when its first socket closes. */
async function host(): Promise<Host> {
  let onClose: () => void = () => {}
  const closed = new Promise<void>((r) => {
    onClose = r
  })
  const server = createServer((_req, res) => res.writeHead(200).end())
  server.keepAliveTimeout = 60_000
  server.on('connection', (s) => s.on('close', () => onClose()))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`, closed }
}

describe('webhook connection pools', () => {
  const hosts: Host[] = []
  before(async () => {
    hosts.push(await host(), await host())
  })
  after(async () => {
    for (const h of hosts) {
      h.server.closeAllConnections()
      await new Promise<void>((r) => h.server.close(() => r()))
    }
  })

  it('keys pools by target and origin: a callback host beyond maxPools is closed', async () => {
    const [a, b] = hosts as [Host, Host]
    const sender = createWebhookSender({ allowInsecure: true, maxPools: 1 })
    try {
      const key = 'cb:00000000-0000-7000-8000-000000000001'
      assert.equal((await sender.send({ key, url: a.url }, payload, [SECRET])).kind, 'delivered')
      assert.equal((await sender.send({ key, url: b.url }, payload, [SECRET])).kind, 'delivered')
      // The first origin's pool was the least recently used one: evicted, its socket closed.
      const timeout = new Promise<'kept'>((r) => setTimeout(() => r('kept'), 5000).unref())
      assert.equal(await Promise.race([a.closed.then(() => 'closed' as const), timeout]), 'closed')
    } finally {
      await sender.close()
    }
  })
})
