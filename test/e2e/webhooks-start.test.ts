// `smsgw start` on the embedded default (PGlite, in-process bus) runs the webhooks role: a
// registered endpoint receives a message's signed events.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'
import { startReceiver } from '../helpers/webhook-receiver.ts'

const ADMIN = 'adm_e2e_webhooks_0123456789'

describe('smsgw start delivers webhooks (embedded PGlite and bus)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-webhooks-'))
  let gateway: Gateway | undefined
  after(async () => {
    await gateway?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("a registered endpoint receives the message's signed events", async () => {
    const rx = await startReceiver()
    try {
      gateway = await startGateway({
        dataDir,
        adminToken: ADMIN,
        env: { SMSGW_WEBHOOK_ALLOW_INSECURE: 'true' },
      })
      const api = apiClient(gateway.url)
      const call = api.ok
      const { apiKey: key } = await api.fundedCustomer(ADMIN, '1.00')
      const ep = await call('POST', '/v1/webhook_endpoints', key, { url: rx.url('/e2e') })
      const msg = await call('POST', '/v1/messages', key, { to: '+14155550123', from: 'ACME', body: 'hi' })
      const delivered = await waitFor(
        () => rx.on('/e2e').find((r) => r.event.data.id === msg.id && r.event.type === 'message.delivered'),
        'message.delivered at the endpoint',
        30_000,
      )
      await waitFor(
        () => rx.on('/e2e').find((r) => r.event.data.id === msg.id && r.event.type === 'message.queued'),
        'message.queued at the endpoint',
        30_000,
      )
      assert.ok(new Webhook(ep.secret as string).verify(delivered.body, delivered.headers))
      // The events API on PGlite lists what was posted, byte for byte.
      const listed = (await call('GET', '/v1/events', key)) as { data: unknown[] }
      const byId = new Map(listed.data.map((e) => [(e as { id: string }).id, JSON.stringify(e)]))
      assert.equal(byId.get(delivered.event.id), delivered.body)
    } finally {
      await rx.close()
    }
  })
})
