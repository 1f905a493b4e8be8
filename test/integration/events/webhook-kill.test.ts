// kill -9 of the webhook role (`smsgw webhooks`, a real process over PostgreSQL and NATS) while
// deliveries are in flight: after a new process starts, every event arrives (de-duplicated by id),
// including those the dead process had claimed and those published while no role ran.

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import type { Bus } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { createStatusEventRelay, type StatusEventRelay } from '../../../src/events/relay.ts'
import { createCustomer, sendBody, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { BIN } from '../../helpers/bin.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import type { FreshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import type { Receiver } from '../../helpers/webhook-receiver.ts'
import { type WebhookTestApp, webhookTestApp } from '../../helpers/webhooks.ts'

describe('kill -9 of the webhook role loses no event', () => {
  const id = randomBytes(5).toString('hex')
  const stream = `TEST_WHK_${id}`
  const prefix = `whk_${id}`
  let pg: FreshDatabase
  let t: TestApp
  let bus: Bus
  let sim: CarrierSim
  let pipeline: Pipeline
  let relay: StatusEventRelay
  let rx: Receiver
  let w: WebhookTestApp
  let KEY: Buffer
  const children: ChildProcess[] = []

  /** Starts `smsgw webhooks` and resolves once it runs (its consumers exist). */
  const startRole = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'webhooks'], {
        env: {
          ...process.env,
          PORT: '0',
          LOG_LEVEL: 'info',
          DATABASE_URL: pg.url,
          NATS_URL,
          SMSGW_NATS_STREAM: stream,
          SMSGW_NATS_PREFIX: prefix,
          SMSGW_WEBHOOK_ALLOW_INSECURE: 'true',
          SMSGW_WEBHOOK_SECRET_KEY: KEY.toString('base64'),
          SMSGW_WEBHOOK_RETRY_BASE_MS: '50',
          SMSGW_WEBHOOK_LEASE_MS: '2000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      children.push(child)
      let out = ''
      const timer = setTimeout(() => reject(new Error(`smsgw webhooks did not start:\n${out}`)), 60_000)
      const onData = (d: Buffer) => {
        out += d
        if (out.includes('"msg":"running"')) {
          clearTimeout(timer)
          resolve(child)
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        if (!out.includes('"msg":"running"')) reject(new Error(`exited ${code ?? signal}:\n${out}`))
      })
    })
  const kill9 = async (child: ChildProcess) => {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }

  before(async () => {
    w = await webhookTestApp()
    ;({ pg, t, rx, key: KEY } = w)
    bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: prefix })
    sim = await createCarrierSim({ receiptDelayMs: 10 })
    pipeline = createPipeline({
      makeCarrier: createCarrier,
      db: t.db,
      bus,
      carriers: [simSmppCarrier('sim', sim.smppPort, { weight: 1 })],
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
    relay = createStatusEventRelay({ db: t.db, bus, idleMs: 5, maxIdleMs: 20 })
    relay.start()
  })
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) await kill9(c)
    await relay?.stop()
    await pipeline?.stop()
    await bus?.close()
    await deleteStream(stream)
    await sim?.close()
    await w?.close()
  })

  const send = async (c: TestCustomer) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: sendBody(),
    })
    assert.equal(res.statusCode, 202, res.body)
    return (res.json() as { id: string }).id
  }

  it('every event arrives after a kill -9 in the middle and a restart', async () => {
    const first = await startRole()
    const c = await createCustomer(t.app, { name: 'kill', credit: '100.00' })
    const made = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook_endpoints',
      headers: c.auth,
      payload: { url: rx.url('/kill') },
    })
    const secret = (made.json() as { secret: string }).secret
    // The receiver holds every request: deliveries are claimed and in flight when the role dies.
    rx.setBehavior('/kill', () => 'hang')
    const before = await Promise.all(Array.from({ length: 10 }, () => send(c)))
    await waitFor(() => rx.hangingCount() >= 4, 'deliveries in flight', 30_000)
    await kill9(first)
    rx.release()
    rx.setBehavior('/kill', () => 200)
    // Published while no webhook role runs: they wait on the durable.
    const during = await Promise.all(Array.from({ length: 5 }, () => send(c)))
    await startRole()

    const messages = [...before, ...during]
    const expected = new Set<string>()
    await waitFor(
      async () => {
        const res = await t.app.inject({ method: 'GET', url: '/v1/events?limit=1000', headers: c.auth })
        const data = (res.json() as { data: { id: string; type: string; data: { id: string } }[] }).data
        const delivered = data.filter((e) => e.type === 'message.delivered').length
        if (delivered < messages.length) return false
        for (const e of data) expected.add(e.id)
        return true
      },
      'every message delivered',
      30_000,
    )
    assert.ok(expected.size >= messages.length * 3)
    await waitFor(
      () => [...expected].every((e) => rx.on('/kill').some((r) => r.event.id === e)),
      'every event at the endpoint after the restart',
      30_000,
    )
    const wh = new Webhook(secret)
    for (const r of rx.on('/kill')) assert.ok(wh.verify(r.body, r.headers))
    const unique = new Set(rx.on('/kill').map((r) => r.event.id))
    assert.deepEqual([...unique].sort(), [...expected].sort(), 'nothing else arrived')
  })
})
