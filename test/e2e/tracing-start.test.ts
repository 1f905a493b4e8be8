// `smsgw start` with OTEL_EXPORTER_OTLP_ENDPOINT exports one message's spans over OTLP/HTTP
// (protobuf) to the collector it names, resource attributes from the standard variables included.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

const ADMIN = 'adm_e2e_tracing_0123456789'

describe('smsgw start exports traces when OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-tracing-'))
  const posts: { url: string; headers: IncomingHttpHeaders; body: Buffer }[] = []
  // A stand-in OTLP collector: records each export and answers 200 with an empty protobuf body.
  const collector = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      posts.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  let gateway: Gateway | undefined
  after(async () => {
    if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
    collector.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('sends the six spans of a delivered message to <endpoint>/v1/traces', async () => {
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r))
    const port = (collector.address() as AddressInfo).port
    gateway = await startGateway({
      dataDir,
      adminToken: ADMIN,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k123',
        OTEL_SERVICE_NAME: 'smsgw-e2e',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
    })
    const api = apiClient(gateway.url)
    const { apiKey } = await api.fundedCustomer(ADMIN, '1.00')
    const msg = await api.ok('POST', '/v1/messages', apiKey, { to: '+14155550123', from: 'ACME', body: 'hi' })
    await waitFor(
      async () => (await api.ok('GET', `/v1/messages/${msg.id}`, apiKey)).status === 'delivered',
      'delivered',
      30_000,
    )
    const names = ['POST /v1/messages', 'accept commit', 'dispatch', 'worker', 'carrier submit', 'receipt']
    const exported = () => Buffer.concat(posts.map((p) => p.body))
    await waitFor(
      () => names.every((n) => exported().includes(n)) && exported().includes(msg.id as string),
      'every span of the message exported',
      15_000,
    )
    const all = exported()
    assert.ok(all.includes('smsgw-e2e'), 'OTEL_SERVICE_NAME is the service.name')
    assert.ok(all.includes('api+dispatcher+worker+webhooks'), 'the role is a resource attribute')
    for (const p of posts) {
      assert.equal(p.url, '/v1/traces')
      assert.equal(p.headers['content-type'], 'application/x-protobuf')
      assert.equal(p.headers['x-collector-key'], 'k123', 'OTEL_EXPORTER_OTLP_HEADERS honoured')
    }
    gateway.child.kill('SIGTERM')
    assert.equal(await gateway.exited, 0, gateway.output())
  })
})
