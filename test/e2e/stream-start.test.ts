// `smsgw start` on the embedded default (PGlite, in-process bus) serves the live stream: a message's
// events arrive live over SSE and the WebSocket as GET /v1/events lists them, and SIGTERM with
// streams open shuts down cleanly (open streams do not hold the close).

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { BIN } from '../helpers/bin.ts'
import { openSse, openWs, type StreamedEvent } from '../helpers/stream-client.ts'
import { waitFor } from '../helpers/wait.ts'

const ADMIN = 'adm_e2e_stream_0123456789'

describe('smsgw start serves the live stream (embedded PGlite and bus)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-stream-'))
  let child: ChildProcess | undefined
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("a message's events arrive live on SSE and WebSocket; SIGTERM with streams open exits 0", async () => {
    child = spawn(process.execPath, [BIN, 'start'], {
      env: {
        ...process.env,
        PORT: '0',
        SMSGW_DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        DATABASE_URL: '',
        NATS_URL: '',
        SMSGW_ADMIN_TOKEN: ADMIN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const keep = (d: Buffer) => {
      out += d
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const exited = new Promise<number | null>((r) => child?.once('exit', r))
    const base = await waitFor(
      () => /smsgw is running at (\S+)|"address":"([^"]+)"/.exec(out)?.slice(1).find(Boolean),
      `listening:\n${out}`,
      60_000,
    )
    const call = async (method: string, path: string, auth: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
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
    const auth = { authorization: `Bearer ${customer.api_key as string}` }

    const sse = await openSse(base, '/v1/events/stream', auth)
    const ws = await openWs(base, '/v1/events/stream', auth)
    await waitFor(() => sse.live(), 'SSE live')
    const msg = await call('POST', '/v1/messages', customer.api_key as string, {
      to: '+14155550123',
      from: 'ACME',
      body: 'hi',
    })
    const final = (es: StreamedEvent[]) =>
      es.find((e) => e.data.id === msg.id && e.type === 'message.delivered')
    await waitFor(() => final(sse.events) && final(ws.events), 'message.delivered on both', 30_000)
    const listed = (
      (await call('GET', '/v1/events', customer.api_key as string)) as { data: StreamedEvent[] }
    ).data
    assert.deepEqual(sse.events, listed.reverse(), 'queued, sent, delivered: the listed envelopes')
    assert.deepEqual(ws.events, sse.events)

    child.kill('SIGTERM')
    assert.equal(await exited, 0, out)
    await waitFor(() => sse.ended(), 'the SSE response ended')
  })
})
