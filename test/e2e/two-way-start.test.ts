// `smsgw start` on the embedded default (PGlite, in-process bus): the quickstart's two-way step.
// A message sent from the customer's own number is answered by the simulated recipient, and the
// answer arrives as an inbound message for that customer; STOP from the recipient refuses the
// next send (the embedded compliance cache hears of it at once).

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

const ADMIN = 'adm_e2e_two_way_0123456789'
const NUMBER = '+14155550100'

describe('smsgw start: two-way quickstart (embedded PGlite and bus)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-two-way-'))
  let gateway: Gateway | undefined
  after(() => {
    if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('a message from an assigned number gets a reply, listed in /v1/inbound_messages', async () => {
    gateway = await startGateway({ dataDir, adminToken: ADMIN })
    const api = apiClient(gateway.url)
    const c = await api.fundedCustomer(ADMIN, '1.00')
    await api.ok('POST', '/v1/admin/numbers', ADMIN, { number: NUMBER, customer_id: c.id })
    const sent = await api.ok('POST', '/v1/messages', c.apiKey, {
      to: '+14155550123',
      from: NUMBER,
      body: 'Are you coming tonight?',
    })
    assert.equal(sent.status, 'queued')
    const reply = await waitFor(
      async () => {
        const list = (await api.ok('GET', '/v1/inbound_messages', c.apiKey)) as {
          data: { from: string; to: string; body: string }[]
        }
        return list.data[0]
      },
      'the reply',
      30_000,
      50,
    )
    assert.deepEqual([reply.from, reply.to, reply.body], ['+14155550123', NUMBER, 'Got it, thanks!'])
    gateway.child.kill('SIGTERM')
    assert.equal(await gateway.exited, 0, gateway.output())
  })
})
