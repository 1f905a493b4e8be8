// The provider endpoints are authenticated per carrier (API.md, provider-facing): a forged receipt
// cannot flip a customer's message, a stale or foreign signature is refused, allowed_ips is
// enforced, and inbound bodies are small and carry real numbers.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type CarrierSim, createCarrierSim } from '../../src/carriers/sim/carrier-sim.ts'
import { newWebhookSecret } from '../../src/carriers/webhook-auth.ts'
import { sendBody, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'
import { type AppWithPipeline, startAppWithPipeline } from '../helpers/pipeline.ts'
import { signedPost } from '../helpers/webhooks.ts'
import { eventually } from './bus/wait.ts'

describe('provider webhooks are authenticated per carrier', () => {
  const secret = newWebhookSecret()
  let pg: FreshDatabase
  let sim: CarrierSim
  let stack: AppWithPipeline
  let t: TestApp
  let auth: { authorization: string }

  before(async () => {
    pg = await freshDatabase()
    // No receipts from the simulator: the test posts them itself.
    sim = await createCarrierSim({ receipts: false })
    const url = `http://127.0.0.1:${sim.httpPort}/messages`
    stack = await startAppWithPipeline(pg.url, [
      { name: 'signed', type: 'http', url, weight: 100, webhook_secret: secret },
      { name: 'by-ip', type: 'http', url, weight: 0, allowed_ips: ['203.0.113.0/24'] },
    ])
    ;({ t, auth } = stack)
  })
  after(async () => {
    await stack?.close()
    await sim?.close()
    await pg?.drop()
  })

  const status = async (id: string) =>
    (await t.db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id])).rows[0]?.status

  /** A message the `signed` carrier took, and its carrier id. */
  async function sentMessage(): Promise<{ id: string; carrierId: string }> {
    const r = await t.app.inject({ method: 'POST', url: '/v1/messages', headers: auth, payload: sendBody() })
    assert.equal(r.statusCode, 202, r.body)
    const id = r.json().id as string
    await eventually(async () => (await status(id)) === 'sent', `message ${id} sent`, 20_000)
    const { rows } = await t.db.query<{ carrier_id: string }>(
      'SELECT carrier_id FROM carrier_refs WHERE message_id = $1',
      [id],
    )
    return { id, carrierId: rows[0]?.carrier_id as string }
  }

  it('a forged receipt is 401 and leaves the message alone; the signed one then delivers it', async () => {
    const { id, carrierId } = await sentMessage()
    const receipt = { carrier_id: carrierId, status: 'undelivered' }
    const unsigned = await t.app.inject({ method: 'POST', url: '/v1/providers/signed/dlr', payload: receipt })
    assert.equal(unsigned.statusCode, 401, unsigned.body)
    assert.equal(unsigned.json().error.code, 'unauthenticated')
    const wrongKey = await t.app.inject(signedPost('/v1/providers/signed/dlr', receipt, newWebhookSecret()))
    assert.equal(wrongKey.statusCode, 401, wrongKey.body)
    // A signature over other bytes than those sent (the body was altered on the way).
    const tampered = signedPost('/v1/providers/signed/dlr', receipt, secret)
    tampered.payload = tampered.payload.replace('undelivered', 'delivered')
    assert.equal((await t.app.inject(tampered)).statusCode, 401)
    assert.equal(await status(id), 'sent')

    const genuine = await t.app.inject(
      signedPost('/v1/providers/signed/dlr', { carrier_id: carrierId, status: 'delivered' }, secret),
    )
    assert.equal(genuine.statusCode, 202, genuine.body)
    assert.equal(await status(id), 'delivered')
  })

  it('a correctly signed receipt more than 5 minutes old (or ahead) is 401', async () => {
    const { id, carrierId } = await sentMessage()
    const receipt = { carrier_id: carrierId, status: 'undelivered' }
    for (const at of [new Date(Date.now() - 6 * 60_000), new Date(Date.now() + 6 * 60_000)]) {
      const res = await t.app.inject(signedPost('/v1/providers/signed/dlr', receipt, secret, { at }))
      assert.equal(res.statusCode, 401, res.body)
    }
    assert.equal(await status(id), 'sent')
    // Within the window it is fine: carriers' clocks drift a little.
    const recent = await t.app.inject(
      signedPost('/v1/providers/signed/dlr', receipt, secret, { at: new Date(Date.now() - 60_000) }),
    )
    assert.equal(recent.statusCode, 202, recent.body)
    assert.equal(await status(id), 'undelivered')
  })

  it('a carrier with allowed_ips takes webhooks from those addresses only', async () => {
    const inbound = { from: '+447700900123', to: '+14155550100', body: 'hello' }
    const from = (remoteAddress: string) =>
      t.app.inject({ method: 'POST', url: '/v1/providers/by-ip/inbound', payload: inbound, remoteAddress })
    const outside = await from('198.51.100.7')
    assert.equal(outside.statusCode, 401, outside.body)
    const inside = await from('203.0.113.9')
    assert.equal(inside.statusCode, 202, inside.body)
    const { rows } = await t.db.query<{ carrier: string }>(
      "SELECT carrier FROM inbound_messages WHERE body = 'hello'",
    )
    assert.deepEqual(
      rows.map((r) => r.carrier),
      ['by-ip'],
    )
  })

  it('inbound: a forged STOP is 401, a body over 8 KiB is 413, bad numbers are 400, nothing is stored', async () => {
    const before = (await t.db.query('SELECT 1 FROM inbound_messages')).rowCount
    const stop = { from: '+447700900123', to: '+14155550100', body: 'STOP' }
    const forged = await t.app.inject({ method: 'POST', url: '/v1/providers/signed/inbound', payload: stop })
    assert.equal(forged.statusCode, 401, forged.body)
    const big = await t.app.inject(
      signedPost('/v1/providers/signed/inbound', { ...stop, body: 'x'.repeat(9000) }, secret),
    )
    assert.equal(big.statusCode, 413, big.body)
    assert.equal(big.json().error.code, 'payload_too_large')
    for (const [over, param] of [
      [{ from: 'ACME' }, 'from'],
      [{ to: "'; DROP TABLE x" }, 'to'],
    ] as const) {
      const res = await t.app.inject(signedPost('/v1/providers/signed/inbound', { ...stop, ...over }, secret))
      assert.equal(res.statusCode, 400, res.body)
      assert.equal(res.json().error.param, param)
    }
    // Signed, but not JSON: the signature is checked over the bytes, then they are parsed.
    const notJson = await t.app.inject(signedPost('/v1/providers/signed/inbound', '{"from":', secret))
    assert.equal(notJson.statusCode, 400, notJson.body)
    assert.equal(notJson.json().error.code, 'invalid_json')
    assert.equal((await t.db.query('SELECT 1 FROM inbound_messages')).rowCount, before)
    const ok = await t.app.inject(signedPost('/v1/providers/signed/inbound', stop, secret))
    assert.equal(ok.statusCode, 202, ok.body)
    assert.equal((await t.db.query('SELECT 1 FROM inbound_messages')).rowCount, before + 1)
  })

  it('an unknown provider is 404 before anything else', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/providers/nope/dlr', payload: {} })
    assert.equal(res.statusCode, 404, res.body)
  })
})
