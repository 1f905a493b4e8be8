// `smsgw start` on the embedded default (PGlite, in-process bus) runs the webhooks role: a
// registered endpoint receives a message's signed events.

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { BIN } from '../helpers/bin.ts'
import { waitFor } from '../helpers/wait.ts'
import { startReceiver } from '../helpers/webhook-receiver.ts'

const ADMIN = 'adm_e2e_webhooks_0123456789'

function start(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: {
      ...process.env,
      PORT: '0',
      SMSGW_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      DATABASE_URL: '',
      NATS_URL: '',
      SMSGW_ADMIN_TOKEN: ADMIN,
      SMSGW_WEBHOOK_ALLOW_INSECURE: 'true',
      SMSGW_WEBHOOK_SECRET_KEY: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening within 60 s:\n${out}`)), 60_000)
    const onData = (d: Buffer) => {
      out += d
      const m = /smsgw is running at (\S+)|"address":"([^"]+)"/.exec(out)
      const url = m?.[1] ?? m?.[2]
      if (url) {
        clearTimeout(timer)
        resolve({ child, url })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)))
  })
}

describe('smsgw start delivers webhooks (embedded PGlite and bus)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-webhooks-'))
  let child: ChildProcess | undefined
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("a registered endpoint receives the message's signed events", async () => {
    const rx = await startReceiver()
    try {
      const s = await start(dataDir)
      child = s.child
      const call = async (method: string, path: string, auth: string, body?: unknown) => {
        const res = await fetch(`${s.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${auth}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        })
        const json = (await res.json()) as Record<string, unknown>
        assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
        return json
      }
      await call('PUT', '/v1/admin/rates', ADMIN, { currency: 'USD', default: '0.0100', countries: {} })
      const customer = await call('POST', '/v1/admin/customers', ADMIN, { name: 'e2e' })
      await call('POST', `/v1/admin/customers/${customer.id}/credits`, ADMIN, {
        amount: '1.00',
        reference: 'e2e',
      })
      const key = customer.api_key as string
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
