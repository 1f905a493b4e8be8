// One message's trace when the api, the dispatcher and the worker are separate processes
// (`smsgw api` + `smsgw dispatcher` + `smsgw worker`): each has a Tracing of its own, whose
// in-memory maps the others never see, all exporting to one in-memory exporter; real NATS and
// PostgreSQL between them. The accept commit reaches `dispatch` through the outbox row's
// trace_parent, and a receipt handled by another worker than the one that submitted reaches its
// submit through the carrier_refs row's trace_parent. With tracing off, neither is written.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { createReceiptHandler } from '../../../src/delivery/receipts.ts'
import { createStatusWriter } from '../../../src/events/status-writer.ts'
import { createTracing, TRACING_OFF, type Tracing } from '../../../src/observability/tracing.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { type BusUnderTest, busesUnderTest } from '../../helpers/buses.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

const CHAIN = ['POST /v1/messages', 'accept commit', 'dispatch', 'worker', 'carrier submit', 'receipt']

let pg: FreshDatabase
let nats: BusUnderTest
let sim: CarrierSim
/** A carrier whose receipts come only when the test sends them (to another worker). */
let quietSim: CarrierSim
before(async () => {
  pg = await freshDatabase()
  nats = await busesUnderTest.nats()
  sim = await createCarrierSim({ receiptDelayMs: 10 })
  quietSim = await createCarrierSim({ receiptDelayMs: 3_600_000 })
})
after(async () => {
  await sim?.close()
  await quietSim?.close()
  await nats?.cleanup()
  await pg?.drop()
})

interface Split {
  api: TestApp
  dispatcher: Pipeline
  worker: Pipeline
  dbs: Db[]
  auth: { authorization: string }
  close(): Promise<void>
}

/** Three "processes" on one database and one NATS server, each with its own pool and its own tracing. */
async function startSplit(
  tracing: { api: Tracing; dispatcher: Tracing; worker: Tracing },
  carrier: CarrierSim,
): Promise<Split> {
  const api = await startApp(pg.url, { deps: { tracing: tracing.api } })
  const dbs = [createPostgresDb({ url: pg.url, poolSize: 4 }), createPostgresDb({ url: pg.url, poolSize: 4 })]
  const [dDb, wDb] = dbs as [Db, Db]
  const dispatcher = createPipeline({
    makeCarrier: createCarrier,
    db: dDb,
    bus: nats.bus,
    carriers: [],
    roles: { dispatcher: true, worker: false },
    dispatcher: { idleMs: 5 },
    tracing: tracing.dispatcher,
  })
  const worker = createPipeline({
    makeCarrier: createCarrier,
    db: wDb,
    bus: nats.bus,
    carriers: [simSmppCarrier('sim', carrier.smppPort, { window: 10 })],
    roles: { dispatcher: false, worker: true },
    tracing: tracing.worker,
  })
  await worker.start()
  await dispatcher.start()
  await setRates(api.app)
  const { auth } = await createCustomer(api.app, { credit: '10.00' })
  return {
    api,
    dispatcher,
    worker,
    dbs,
    auth,
    async close() {
      await dispatcher.stop()
      await worker.stop()
      await api.close()
      await Promise.all(dbs.map((d) => d.close()))
    },
  }
}

async function send(s: Split): Promise<string> {
  const res = await s.api.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: s.auth,
    payload: sendBody(),
  })
  assert.equal(res.statusCode, 202, `${res.statusCode} ${res.body}`)
  return res.json().id as string
}

const statusOf = async (s: Split, id: string) =>
  (await s.api.app.inject({ url: `/v1/messages/${id}`, headers: s.auth })).json().status as string

const idOf = (s: ReadableSpan) => s.spanContext().spanId

/** The six spans of one message in chain order, once all have ended. */
function chainOf(exporter: InMemorySpanExporter, messageId: string): Promise<ReadableSpan[]> {
  return waitFor(
    () => {
      const spans = exporter.getFinishedSpans()
      const own = spans.filter((s) => s.attributes['smsgw.message.id'] === messageId)
      const accept = own.find((s) => s.name === 'accept commit')
      const http = spans.find(
        (s) => s.name === CHAIN[0] && accept && idOf(s) === accept.parentSpanContext?.spanId,
      )
      const chain = [http, ...CHAIN.slice(1).map((n) => own.find((s) => s.name === n))]
      return chain.every((s) => s !== undefined) ? (chain as ReadableSpan[]) : undefined
    },
    `the six spans of ${messageId}`,
    15_000,
  )
}

function assertOneChain(chain: ReadableSpan[]): void {
  assert.deepEqual(
    chain.map((s) => s.name),
    CHAIN,
  )
  const traceId = (chain[0] as ReadableSpan).spanContext().traceId
  for (const s of chain) assert.equal(s.spanContext().traceId, traceId, `${s.name} is in the message's trace`)
  for (let i = 1; i < chain.length; i++) {
    const s = chain[i] as ReadableSpan
    const parent = chain[i - 1] as ReadableSpan
    assert.equal(s.parentSpanContext?.spanId, idOf(parent), `${s.name}'s parent is ${parent.name}`)
  }
}

const traceParents = async (db: Db, id: string) => {
  const outbox = await db.query<{ trace_parent: string | null }>(
    // The outbox row is gone once dispatched: read what messages still wait there, else nothing.
    'SELECT trace_parent FROM outbox WHERE message_id = $1',
    [id],
  )
  const refs = await db.query<{ trace_parent: string | null }>(
    'SELECT trace_parent FROM carrier_refs WHERE message_id = $1',
    [id],
  )
  return { outbox: outbox.rows.map((r) => r.trace_parent), refs: refs.rows.map((r) => r.trace_parent) }
}

describe('tracing split across api, dispatcher and worker processes (NATS, PostgreSQL)', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  const fresh = () => createTracing({ provider })
  after(() => provider.shutdown())

  it('keeps the six spans of a message in one trace, each the parent of the next', async (t) => {
    const s = await startSplit({ api: fresh(), dispatcher: fresh(), worker: fresh() }, sim)
    try {
      const id = await send(s)
      await waitFor(async () => (await statusOf(s, id)) === 'delivered', `${id} delivered`, 20_000)
      const chain = await chainOf(exporter, id)
      t.diagnostic(
        chain
          .map(
            (x) =>
              `${x.name} trace=${x.spanContext().traceId} span=${idOf(x)} parent=${x.parentSpanContext?.spanId ?? '-'}`,
          )
          .join('\n'),
      )
      assertOneChain(chain)
      // The dispatcher's parent came from the database, not from the api's memory.
      assert.equal(chain[2]?.parentSpanContext?.isRemote, true)
      const { refs } = await traceParents(s.api.db, id)
      const submit = chain[4] as ReadableSpan
      assert.deepEqual(refs, [`00-${submit.spanContext().traceId}-${idOf(submit)}-01`])
    } finally {
      await s.close()
    }
  })

  it('parents a receipt handled by another worker (a fresh Tracing) to the submit', async () => {
    const s = await startSplit({ api: fresh(), dispatcher: fresh(), worker: fresh() }, quietSim)
    try {
      const id = await send(s)
      await waitFor(async () => (await statusOf(s, id)) === 'sent', `${id} sent`, 20_000)
      const { rows } = await s.api.db.query<{ carrier_id: string }>(
        'SELECT carrier_id FROM carrier_refs WHERE message_id = $1',
        [id],
      )
      const carrierId = rows[0]?.carrier_id as string
      // The second worker: its own pool, status writer and tracing; the receipt reaches it only.
      const db = createPostgresDb({ url: pg.url, poolSize: 2 })
      const statuses = createStatusWriter(db)
      try {
        const other = createReceiptHandler({ db, statuses, tracing: fresh() })
        await other.handle('sim', { carrierId, status: 'delivered' })
        await statuses.drain()
      } finally {
        await db.close()
      }
      await waitFor(async () => (await statusOf(s, id)) === 'delivered', `${id} delivered`, 20_000)
      assertOneChain(await chainOf(exporter, id))
    } finally {
      await s.close()
    }
  })
})

describe('tracing off across split processes', () => {
  it('writes no trace_parent to the outbox or carrier_refs', async () => {
    const s = await startSplit({ api: TRACING_OFF, dispatcher: TRACING_OFF, worker: TRACING_OFF }, sim)
    try {
      // Scheduled, so its outbox row stays to be read.
      const res = await s.api.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: s.auth,
        payload: sendBody({ send_at: new Date(Date.now() + 3_600_000).toISOString() }),
      })
      assert.equal(res.statusCode, 202, res.body)
      const scheduled = res.json().id as string
      const id = await send(s)
      await waitFor(async () => (await statusOf(s, id)) === 'delivered', `${id} delivered`, 20_000)
      assert.deepEqual(await traceParents(s.api.db, scheduled), { outbox: [null], refs: [] })
      assert.deepEqual(await traceParents(s.api.db, id), { outbox: [], refs: [null] })
    } finally {
      await s.close()
    }
  })

  it('writes the accept commit traceparent to the outbox while tracing is on', async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const api = await startApp(pg.url, { deps: { tracing: createTracing({ provider }) } })
    try {
      await setRates(api.app)
      const { auth } = await createCustomer(api.app, { credit: '10.00' })
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: auth,
        payload: sendBody({ send_at: new Date(Date.now() + 3_600_000).toISOString() }),
      })
      assert.equal(res.statusCode, 202, res.body)
      const id = res.json().id as string
      const accept = exporter.getFinishedSpans().find((x) => x.name === 'accept commit') as ReadableSpan
      assert.ok(accept)
      assert.deepEqual((await traceParents(api.db, id)).outbox, [
        `00-${accept.spanContext().traceId}-${idOf(accept)}-01`,
      ])
    } finally {
      await api.close()
      await provider.shutdown()
    }
  })
})
