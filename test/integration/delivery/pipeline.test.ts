import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CircuitState } from 'cockatiel'
import { Registry } from 'prom-client'
import { batchItems } from '../../../src/bus/batch.ts'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { DEAD_LETTERS } from '../../../src/bus/subjects.ts'
import { type CarrierConfig, simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { providerView } from '../../../src/delivery/carrier-links.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { closeUnreportedMessages } from '../../../src/delivery/receipt-timeout.ts'
import type { DeliveryJob } from '../../../src/domain/message.ts'
import {
  adminHeaders,
  createCustomer,
  sendBody,
  setRates,
  startApp,
  type TestApp,
} from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

const smpp = (name: string, sim: CarrierSim, weight: number): CarrierConfig =>
  simSmppCarrier(name, sim.smppPort, { weight, window: 20 })

describe('delivery pipeline end to end (PostgreSQL, in-process bus, SMPP simulator)', () => {
  let pg: FreshDatabase
  let t: TestApp
  let bus: Bus
  let primary: CarrierSim
  let secondary: CarrierSim
  let pipeline: Pipeline
  let auth: { authorization: string }
  const registry = new Registry()

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url, { deps: { providers: () => pipeline.links.map(providerView) } })
    await setRates(t.app)
    auth = (await createCustomer(t.app, { credit: '100.00' })).auth
    primary = await createCarrierSim({ receiptDelayMs: 20 })
    secondary = await createCarrierSim({ receiptDelayMs: 20 })
    bus = createMemoryBus()
    pipeline = createPipeline({
      makeCarrier: createCarrier,
      registry,
      db: t.db,
      bus,
      carriers: [smpp('primary', primary, 1_000_000), smpp('secondary', secondary, 1)],
      breaker: { failures: 3, halfOpenAfterMs: 500 },
      worker: { baseBackoffMs: 10, maxBackoffMs: 50, maxAttempts: 4, maxThrottleWaits: 1000 },
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
  })
  after(async () => {
    await pipeline?.stop()
    await bus?.close()
    await primary?.close()
    await secondary?.close()
    await t?.close()
    await pg?.drop()
  })

  const send = async (over: Record<string, unknown> = {}) => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: auth,
      payload: sendBody(over),
    })
    assert.equal(r.statusCode, 202, r.body)
    return r.json().id as string
  }
  const message = async (id: string) =>
    (await t.app.inject({ url: `/v1/messages/${id}`, headers: auth })).json() as {
      status: string
      is_final: boolean
      events: { status: string; detail: Record<string, unknown> | null }[]
    }
  const final = (id: string) =>
    waitFor(
      async () => {
        const m = await message(id)
        return m.is_final ? m : undefined
      },
      `message ${id} to be final`,
      30_000,
    )

  it('POST /v1/messages → delivered via SMPP, with the status timeline', async () => {
    const id = await send()
    const m = await final(id)
    assert.equal(m.status, 'delivered')
    assert.deepEqual(
      m.events.map((e) => e.status),
      ['queued', 'sending', 'sent', 'delivered'],
    )
    assert.equal(m.events[2]?.detail?.carrier, 'primary')
  })

  it('a 3-part UCS-2 message is delivered with three receipts', async () => {
    const body = 'Привет! '.repeat(20) // 160 UCS-2 units → 3 parts of ≤ 67
    const id = await send({ body })
    const m = await final(id)
    assert.equal(m.status, 'delivered')
    const { rows } = await t.db.query<{ part: number; receipt_status: string }>(
      'SELECT part, receipt_status FROM carrier_refs WHERE message_id = $1 ORDER BY part',
      [id],
    )
    assert.deepEqual(
      rows.map((r) => [Number(r.part), r.receipt_status]),
      [
        [1, 'delivered'],
        [2, 'delivered'],
        [3, 'delivered'],
      ],
    )
  })

  it('primary failing: the circuit opens, traffic fails over, nothing is lost; it closes after recovery', async () => {
    const primaryBreaker = pipeline.links.find((p) => p.name === 'primary')?.breaker
    assert.ok(primaryBreaker)
    let opened = 0
    const listener = primaryBreaker.onBreak(() => {
      opened++
    })
    primary.setOptions({ transientErrorRate: 1 })
    const ids = []
    for (let i = 0; i < 20; i++) ids.push(await send({ client_reference: `fo-${i}` }))
    const results = await Promise.all(ids.map(final))
    assert.deepEqual(
      results.map((m) => m.status),
      results.map(() => 'delivered'),
      `every message delivered: ${JSON.stringify(results.filter((m) => m.status !== 'delivered').map((m) => m.events))}`,
    )
    const viaSecondary = results.filter(
      (m) => m.events.find((e) => e.status === 'sent')?.detail?.carrier === 'secondary',
    )
    assert.equal(viaSecondary.length, 20)
    assert.ok(opened > 0, 'the primary circuit opened')
    listener.dispose()
    primary.setOptions({ transientErrorRate: 0 })
    // After halfOpenAfter a trial goes to the primary and closes the circuit.
    await waitFor(
      async () => {
        const id = await send()
        const m = await final(id)
        return m.events.find((e) => e.status === 'sent')?.detail?.carrier === 'primary' ? true : undefined
      },
      'traffic back on the primary',
      30_000,
    )
    assert.equal(primaryBreaker.state, CircuitState.Closed, 'the circuit closed after recovery')
  })

  it('transient errors everywhere: retried, then dead-lettered as failed with a ledger refund', async () => {
    primary.setOptions({ transientErrorRate: 1 })
    secondary.setOptions({ transientErrorRate: 1 })
    const dead: unknown[] = []
    const sub = await bus.subscribe(DEAD_LETTERS, (m) => dead.push(m.data))
    try {
      const before = (await t.app.inject({ url: '/v1/balance', headers: auth })).json().balance.amount
      const id = await send()
      const m = await final(id)
      assert.equal(m.status, 'failed')
      const { rows } = await t.db.query<{ kind: string; amount: string }>(
        'SELECT kind, amount::text FROM ledger WHERE message_id = $1 ORDER BY id',
        [id],
      )
      assert.deepEqual(rows, [
        { kind: 'charge', amount: '-7900' },
        { kind: 'refund', amount: '7900' },
      ])
      const afterBal = (await t.app.inject({ url: '/v1/balance', headers: auth })).json().balance.amount
      assert.equal(afterBal, before)
      await waitFor(async () => (dead.length > 0 ? true : undefined), 'a dead letter', 30_000)
    } finally {
      await sub.stop()
      primary.setOptions({ transientErrorRate: 0 })
      secondary.setOptions({ transientErrorRate: 0 })
    }
  })

  it('carriers that throttle slow delivery down instead of failing it', async () => {
    primary.setOptions({ throughputPerSec: 1 })
    secondary.setOptions({ throughputPerSec: 1 })
    const throttledBefore = primary.counters().rejected.throttled + secondary.counters().rejected.throttled
    try {
      const ids = []
      for (let i = 0; i < 8; i++) ids.push(await send({ client_reference: `throttled-${i}` }))
      const results = await Promise.all(ids.map(final))
      assert.deepEqual(
        results.map((m) => m.status),
        ids.map(() => 'delivered'),
      )
      const throttled = primary.counters().rejected.throttled + secondary.counters().rejected.throttled
      // More throttled answers than the 4 attempts per message could have absorbed.
      assert.ok(throttled - throttledBefore > 4 * 2, `${throttled - throttledBefore} throttled answers`)
    } finally {
      primary.setOptions({ throughputPerSec: null })
      secondary.setOptions({ throughputPerSec: null })
    }
  })

  it('a permanent error ends rejected and refunded without retries', async () => {
    primary.setOptions({ permanentErrorRate: 1 })
    secondary.setOptions({ permanentErrorRate: 1 })
    try {
      const before = primary.counters()
      const secondBefore = secondary.counters()
      const id = await send()
      const m = await final(id)
      assert.equal(m.status, 'rejected')
      const { rows } = await t.db.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM ledger WHERE message_id = $1 AND kind = 'refund'",
        [id],
      )
      assert.equal(rows[0]?.n, '1')
      const after = primary.counters().submitsReceived + secondary.counters().submitsReceived
      assert.equal(after - before.submitsReceived - secondBefore.submitsReceived, 1, 'one submit, no retry')
    } finally {
      primary.setOptions({ permanentErrorRate: 0 })
      secondary.setOptions({ permanentErrorRate: 0 })
    }
  })

  it('a late redelivery of a submitted message is not expired nor refunded, however late', async () => {
    const jobs: DeliveryJob[] = []
    const sub = await bus.subscribe<unknown>('sms.deliver.>', (m) =>
      jobs.push(...(batchItems(m.data) as DeliveryJob[])),
    )
    // No receipts: the message stays `sent` (taken by the carrier, not final) while redelivered.
    primary.setOptions({ receipts: false })
    secondary.setOptions({ receipts: false })
    const id = await send({ client_reference: 'late-redelivery' })
    await waitFor(async () => ((await message(id)).status === 'sent' ? true : undefined), 'sent', 30_000)
    await sub.stop()
    const job = jobs.find((j) => j.id === id)
    assert.ok(job, 'the job was seen on the bus')
    let acked = false
    await pipeline.worker?.handle({
      id: `${id}-again`,
      seq: 0,
      subject: 'sms.deliver.normal',
      data: { ...job, expires_at: new Date(Date.now() - 60_000).toISOString() },
      deliveryCount: 2,
      ack: async () => {
        acked = true
      },
      nak: async () => {},
      term: async () => {},
      inProgress: async () => {},
      header: () => undefined,
    })
    primary.setOptions({ receipts: true })
    secondary.setOptions({ receipts: true })
    assert.ok(acked)
    assert.equal((await message(id)).status, 'sent')
    const { rows } = await t.db.query<{ kind: string }>('SELECT kind FROM ledger WHERE message_id = $1', [id])
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['charge'],
    )
  })

  it('a message the carrier took but never reported on ends unknown after its validity period, unrefunded', async () => {
    primary.setOptions({ receipts: false })
    secondary.setOptions({ receipts: false })
    const late = await send({ client_reference: 'no-receipt-expired' })
    const young = await send({ client_reference: 'no-receipt-young' })
    for (const id of [late, young])
      await waitFor(async () => ((await message(id)).status === 'sent' ? true : undefined), 'sent', 30_000)
    primary.setOptions({ receipts: true })
    secondary.setOptions({ receipts: true })
    // As if sent 3 hours ago with a 1-hour validity period.
    await t.db.query(`UPDATE messages SET expires_at = now() - interval '2 hours' WHERE id = $1`, [late])
    await t.db.query(
      `UPDATE deliveries SET updated_at = now() - interval '3 hours', expires_at = now() - interval '2 hours'
        WHERE message_id = $1`,
      [late],
    )
    const closed = await closeUnreportedMessages({ db: t.db, statuses: pipeline.statuses, graceS: 3600 })
    assert.ok(closed >= 1)
    const m = await message(late)
    assert.equal(m.status, 'unknown')
    assert.match(String(m.events.at(-1)?.detail?.reason), /no delivery receipt/)
    assert.equal((await message(young)).status, 'sent', 'a message still within its validity keeps waiting')
    const { rows } = await t.db.query<{ kind: string }>('SELECT kind FROM ledger WHERE message_id = $1', [
      late,
    ])
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['charge'],
    )
  })

  it('exports pipeline metrics: dispatch, pending per lane, submits, errors, circuits, receipts, dead letters', async () => {
    const text = await registry.metrics()
    assert.match(text, /smsgw_dispatched_total\{lane="normal"\} [1-9]/)
    assert.match(text, /smsgw_lane_pending\{lane="otp"\} 0/)
    assert.match(text, /smsgw_submit_seconds_count\{carrier="primary"\} [1-9]/)
    assert.match(text, /smsgw_submit_errors_total\{carrier="primary",kind="transient"\} [1-9]/)
    assert.match(text, /smsgw_submit_errors_total\{carrier="primary",kind="permanent"\} [1-9]/)
    assert.match(text, /smsgw_carrier_circuit_state\{carrier="secondary"\} [0-3]/)
    assert.match(text, /smsgw_carrier_window_in_use\{carrier="primary"\} \d/)
    assert.match(text, /smsgw_receipts_total\{status="delivered"\} [1-9]/)
    assert.match(text, /smsgw_receipt_seconds_count [1-9]/)
    assert.match(text, /smsgw_dead_letters_total\{lane="normal",status="failed"\} 1/)
    assert.match(text, /smsgw_dead_letters_total\{lane="normal",status="rejected"\} 1/)
  })

  it('GET /v1/admin/providers lists providers with health, circuit state and queue depth', async () => {
    const res = await t.app.inject({ url: '/v1/admin/providers', headers: adminHeaders })
    assert.equal(res.statusCode, 200)
    const data = res.json().data as {
      name: string
      circuit_state: string
      healthy: boolean
      in_flight: number
    }[]
    assert.deepEqual(
      data.map((p) => p.name),
      ['primary', 'secondary'],
    )
    for (const p of data) {
      assert.ok(['closed', 'half_open', 'open'].includes(p.circuit_state))
      assert.equal(typeof p.healthy, 'boolean')
      assert.equal(typeof p.in_flight, 'number')
    }
    assert.equal((await t.app.inject({ url: '/v1/admin/providers', headers: auth })).statusCode, 403)
  })
})
