import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { reconcile } from '../../../src/reconcile/reconcile.ts'
import { createCustomer, setRates, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'
import { postBatch, usNumbers } from './helpers.ts'

const N = 400

describe('cancel racing delivery (PostgreSQL, NATS, SMPP simulator)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let bus: Bus
  let sim: CarrierSim
  let pipeline: Pipeline
  let c: TestCustomer
  let pipelineDb: Db
  const stream = `TEST_CANCEL_${randomBytes(4).toString('hex')}`

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
    c = await createCustomer(t.app, { credit: '100.00' })
    // A throughput cap spreads the batch over a few seconds, so cancels meet messages in every
    // state: still in the outbox, on the bus, claimed, submitted.
    sim = await createCarrierSim({ throughputPerSec: 150, latencyMs: { min: 1, max: 5 }, receiptDelayMs: 5 })
    bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: `t_${stream.toLowerCase()}` })
    // Its own pool, as a worker process would have: the 100 cancels do not queue behind it.
    pipelineDb = createPostgresDb({ url: pg.url, poolSize: 6 })
    pipeline = createPipeline({
      makeCarrier: createCarrier,
      db: pipelineDb,
      bus,
      carriers: [simSmppCarrier('sim', sim.smppPort, { window: 10 })],
      worker: { baseBackoffMs: 10, maxBackoffMs: 50, maxThrottleWaits: 10_000 },
      dispatcher: { idleMs: 5, window: 100 },
    })
  })
  after(async () => {
    await pipeline?.stop()
    await pipelineDb?.close()
    await bus?.close()
    await deleteStream(stream).catch(() => {})
    await sim?.close()
    await t?.close()
    await pg?.drop()
  })

  it('100 concurrent cancels during delivery: each message is canceled + refunded + never at the carrier, or sent + not refunded', async () => {
    const res = await postBatch(t.app, c.auth, {
      from: 'ACME',
      body: 'Message ${n}',
      priority: 'normal',
      recipients: usNumbers(N).map((to, i) => ({ to, params: { n: String(i) } })),
    })
    assert.equal(res.statusCode, 202, res.body)
    const batchId = res.json().id as string
    const { rows: msgs } = await t.db.query<{ id: string; price: string }>(
      'SELECT id::text, price_micros::text AS price FROM messages WHERE batch_id = $1 ORDER BY id',
      [batchId],
    )
    assert.equal(msgs.length, N)
    await pipeline.start()
    const sentCount = async () =>
      Number(
        (
          await t.db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM messages WHERE batch_id = $1 AND status IN ('sent', 'delivered')`,
            [batchId],
          )
        ).rows[0]?.n,
      )
    // Wait until delivery is under way, then cancel 100 messages spread over the whole batch at once.
    await waitFor(async () => ((await sentCount()) >= 40 ? true : undefined), 'delivery under way', 30_000, 5)
    const targets = msgs.filter((_, i) => i % 4 === 0).map((m) => m.id)
    const answers = await Promise.all(
      targets.map((id) =>
        t.app.inject({ method: 'POST', url: `/v1/messages/${id}/cancel`, headers: c.auth }),
      ),
    )
    const canceledByApi = new Set<string>()
    answers.forEach((a, i) => {
      assert.ok(a.statusCode === 200 || a.statusCode === 409, `${a.statusCode} ${a.body}`)
      if (a.statusCode === 200) {
        assert.equal(a.json().status, 'canceled')
        canceledByApi.add(targets[i] as string)
      } else assert.equal(a.json().error.code, 'not_cancelable')
    })
    assert.ok(canceledByApi.size > 0, 'some cancels came before a worker')
    assert.ok(canceledByApi.size < targets.length, 'some cancels came after a worker took the message')

    await waitFor(
      async () => {
        const { rows } = await t.db.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM messages WHERE batch_id = $1
              AND status NOT IN ('delivered', 'canceled', 'undelivered', 'failed', 'rejected', 'expired', 'unknown')`,
          [batchId],
        )
        return Number(rows[0]?.n) === 0 ? true : undefined
      },
      'every message final',
      60_000,
      50,
    )
    const { rows } = await t.db.query<{
      id: string
      status: string
      price: string
      refunds: number
      refunded: string | null
      refs: number
    }>(
      `SELECT m.id::text, m.status, m.price_micros::text AS price,
              (SELECT count(*)::int FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund') AS refunds,
              (SELECT sum(amount)::text FROM ledger l WHERE l.message_id = m.id AND l.kind = 'refund') AS refunded,
              (SELECT count(*)::int FROM carrier_refs r WHERE r.message_id = m.id) AS refs
         FROM messages m WHERE m.batch_id = $1`,
      [batchId],
    )
    const atCarrier = new Set(sim.submits().flatMap((s) => (s.messageId ? [s.messageId] : [])))
    let canceled = 0
    let unknown = 0
    for (const m of rows) {
      if (m.status === 'canceled') {
        canceled++
        assert.ok(canceledByApi.has(m.id), `${m.id} canceled without a 200`)
        assert.equal(m.refunds, 1, `${m.id} refunded once`)
        assert.equal(m.refunded, m.price)
        assert.equal(m.refs, 0, `${m.id} canceled but recorded at a carrier`)
        assert.ok(!atCarrier.has(m.id), `${m.id} canceled but the carrier saw it`)
      } else {
        // Sent: delivered, or `unknown` when a submit's answer timed out on a loaded machine (ADR 8:
        // it may have been sent, so it is kept charged). Never refunded, never a 200 cancel.
        assert.ok(m.status === 'delivered' || m.status === 'unknown', `${m.id}: ${m.status}`)
        if (m.status === 'unknown') unknown++
        assert.ok(!canceledByApi.has(m.id), `${m.id} got a 200 cancel but was sent`)
        assert.equal(m.refunds, 0, `${m.id} sent and refunded`)
        if (m.status === 'delivered')
          assert.ok(atCarrier.has(m.id), `${m.id} delivered without the carrier seeing it`)
      }
    }
    assert.equal(canceled, canceledByApi.size)
    if (unknown === 0) assert.equal(atCarrier.size, N - canceled)

    // The batch completed once, with its counts; the message.canceled events are recorded.
    const b = await t.app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: c.auth })
    assert.equal(b.json().status, 'completed')
    assert.deepEqual(b.json().counts, {
      canceled,
      delivered: N - canceled - unknown,
      ...(unknown > 0 ? { unknown } : {}),
    })
    const { rows: ev } = await t.db.query<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM customer_events WHERE customer_id = $1 GROUP BY type`,
      [c.id],
    )
    assert.deepEqual(ev, [{ type: 'batch.completed', n: 1 }])
    const { rows: ce } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM message_events WHERE customer_id = $1 AND status = 'canceled'`,
      [c.id],
    )
    assert.equal(ce[0]?.n, canceled)
    const again = await t.app.inject({
      method: 'POST',
      url: `/v1/messages/${[...canceledByApi][0]}/cancel`,
      headers: c.auth,
    })
    assert.equal(again.statusCode, 409)

    const report = await reconcile({ db: t.db, settled: true })
    assert.deepEqual(
      report.checks.filter((x) => !x.ok),
      [],
    )
  })
})
