import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { batchItems } from '../../../src/bus/batch.ts'
import type { Bus, Consumer } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { laneDurable, laneSubject } from '../../../src/bus/subjects.ts'
import { createDispatcher } from '../../../src/dispatch/dispatcher.ts'
import type { DeliveryJob, Priority } from '../../../src/domain/message.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import { postBatch, usNumbers } from './helpers.ts'

// A batch is one customer's ordinary messages in its lane: the dispatcher's fair share across
// customers (and lanes in priority order) releases others' messages long before it drains.
describe('a 10,000-recipient batch does not delay another customer (PostgreSQL, NATS)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let bus: Bus
  const stream = `TEST_BATCHFAIR_${randomBytes(4).toString('hex')}`
  const consumers: Consumer[] = []
  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
    bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: `t_${stream.toLowerCase()}` })
  })
  after(async () => {
    await Promise.all(consumers.map((c) => c.stop()))
    await bus?.close()
    await deleteStream(stream).catch(() => {})
    await t?.close()
    await pg?.drop()
  })

  const record = async (lane: Priority, seen: DeliveryJob[]) =>
    consumers.push(
      await bus.consume<unknown>({
        durable: laneDurable(lane),
        subject: laneSubject(lane),
        concurrency: 1,
        handler: async (m) => {
          seen.push(...(batchItems(m.data) as DeliveryJob[]))
          await m.ack()
        },
      }),
    )

  it("another customer's otp and same-lane messages sent after the batch are dispatched before it drains", async () => {
    const big = await createCustomer(t.app, { name: 'campaigner', credit: '200.00', rateLimitMps: 100_000 })
    const other = await createCustomer(t.app, { name: 'other', credit: '1.00' })
    const batch = await postBatch(t.app, big.auth, {
      from: 'ACME',
      body: 'Sale ${n}',
      recipients: usNumbers(10_000).map((to, i) => ({ to, params: { n: String(i) } })),
    })
    assert.equal(batch.statusCode, 202, batch.body)
    assert.equal(batch.json().priority, 'bulk', 'a batch goes to the bulk lane by default')
    const sendOther = async (priority: Priority) => {
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: other.auth,
        payload: sendBody({ priority }),
      })
      assert.equal(r.statusCode, 202, r.body)
      return r.json().id as string
    }
    const otp = await sendOther('otp')
    const bulk = await sendOther('bulk')

    const bulkSeen: DeliveryJob[] = []
    const otpSeen: DeliveryJob[] = []
    await record('bulk', bulkSeen)
    await record('otp', otpSeen)
    const dispatcher = createDispatcher({ db: t.db, bus, window: 200, maxPerPass: 200, idleMs: 5 })
    dispatcher.start()
    try {
      await waitFor(
        () => (otpSeen.some((j) => j.id === otp) && bulkSeen.some((j) => j.id === bulk) ? true : undefined),
        "the other customer's messages dispatched",
        60_000,
        5,
      )
      const ofBatch = bulkSeen.filter((j) => j.customer_id === big.id).length
      assert.ok(ofBatch < 10_000, `the batch had not drained (${ofBatch} of 10,000 dispatched)`)
      const position = bulkSeen.findIndex((j) => j.id === bulk)
      assert.ok(position < 400, `same-lane message dispatched within the first two windows (at ${position})`)
    } finally {
      await dispatcher.stop()
    }
  })
})
