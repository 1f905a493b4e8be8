// `smsgw start` on the embedded default (PGlite, in-process bus) serves the live stream: a message's
// events arrive live over SSE and the WebSocket as GET /v1/events lists them, and SIGTERM with
// streams open shuts down cleanly (open streams do not hold the close).

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import { openSse, openWs, type StreamedEvent } from '../helpers/stream-client.ts'
import { waitFor } from '../helpers/wait.ts'

const ADMIN = 'adm_e2e_stream_0123456789'

describe('smsgw start serves the live stream (embedded PGlite and bus)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-stream-'))
  let gateway: Gateway | undefined
  after(() => {
    if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("a message's events arrive live on SSE and WebSocket; SIGTERM with streams open exits 0", async () => {
    gateway = await startGateway({ dataDir, adminToken: ADMIN })
    const base = gateway.url
    const api = apiClient(base)
    const call = api.ok
    const customer = { api_key: (await api.fundedCustomer(ADMIN, '1.00')).apiKey }
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

    gateway.child.kill('SIGTERM')
    assert.equal(await gateway.exited, 0, gateway.output())
    await waitFor(() => sse.ended(), 'the SSE response ended')
  })
})
