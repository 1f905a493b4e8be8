import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { BusUnavailableError } from '../../../src/bus/errors.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { busContract } from './contract.ts'
import { hasNatsServer, startPrivateNats } from './nats-server.ts'
import { eventually, Inbox } from './wait.ts'

/** The shared server CI and developers run; each test gets its own stream and subject prefix. */
const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

let admin: NatsConnection
before(async () => {
  admin = await connect({ servers: NATS_URL })
})
after(async () => {
  await admin.close()
})

const deleteStream = async (name: string) => {
  const jsm = await jetstreamManager(admin)
  await jsm.streams.delete(name)
}

busContract('nats', async () => {
  const id = randomBytes(6).toString('hex')
  const stream = `TEST_BUS_${id}`
  const errors: Error[] = []
  const bus = await createNatsBus({
    servers: NATS_URL,
    stream,
    subjectPrefix: `test_${id}`,
    onError: (e) => errors.push(e),
  })
  return {
    bus,
    errors,
    async cleanup() {
      try {
        await bus.close()
      } finally {
        await deleteStream(stream)
      }
    },
  }
})

describe('nats bus: broker crash', { skip: !hasNatsServer() && 'no nats-server binary' }, () => {
  it('loses no confirmed message across kill -9 and restart; publishers retry, consumers resume', async (t) => {
    const server = await startPrivateNats()
    t.after(() => server.dispose())
    const errors: Error[] = []
    const bus = await createNatsBus({
      servers: server.url,
      publishTimeoutMs: 1_000,
      reconnectWaitMs: 100,
      onError: (e) => errors.push(e),
    })
    t.after(() => bus.close())

    const consumed = new Inbox<string>()
    await bus.consume<{ n: number }>({
      durable: 'worker-otp',
      subject: 'sms.deliver.otp',
      ackWaitMs: 1_000,
      concurrency: 8,
      handler: async (m) => {
        consumed.push(m.id)
        await m.ack()
      },
    })

    // The dispatcher's loop: publish, and on BusUnavailableError publish again with the same msgId.
    const N = 600
    let confirmed = 0
    const unavailable: BusUnavailableError[] = []
    let next = 0
    const publisher = async () => {
      while (next < N) {
        const n = next++
        for (;;) {
          try {
            await bus.publish('sms.deliver.otp', { n }, { msgId: `crash-${n}` })
            confirmed++
            break
          } catch (err) {
            if (!(err instanceof BusUnavailableError)) throw err
            unavailable.push(err)
          }
        }
      }
    }
    const publishing = Promise.all(Array.from({ length: 10 }, publisher))

    await eventually(() => confirmed >= 200, '200 confirmed publishes', 10_000)
    await server.kill()
    await eventually(() => unavailable.length > 0, 'a publish to fail while the broker is down', 10_000)
    assert.equal(await bus.healthy(), false)
    await server.start()

    await publishing
    await eventually(() => bus.healthy(), 'the bus to be healthy again', 15_000)
    await consumed.until((ids) => new Set(ids).size >= N, `all ${N} messages consumed`, 30_000)
    await eventually(async () => (await bus.pending('worker-otp')) === 0, 'pending 0', 10_000)

    const nc = await connect({ servers: server.url })
    const stored = (await (await jetstreamManager(nc)).streams.info('SMSGW')).state.messages
    await nc.close()
    assert.equal(stored, N, 'each message stored once: retried publishes were de-duplicated')
    t.diagnostic(
      `publishes rejected while down: ${unavailable.length}; deliveries ${consumed.items.length} for ${N} messages; reported: ${[...new Set(errors.map((e) => e.message))].join(' | ')}`,
    )
  })
})
