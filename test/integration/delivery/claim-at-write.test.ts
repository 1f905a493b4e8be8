import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CircuitState } from 'cockatiel'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { type CarrierConfig, simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { type CarrierLink, createCarrierLink } from '../../../src/delivery/carrier-links.ts'
import { claimNew } from '../../../src/delivery/claims.ts'
import { createWorker, type Worker } from '../../../src/delivery/worker.ts'
import type { DeliveryJob, Priority } from '../../../src/domain/message.ts'
import { createStatusWriter, type StatusWriter } from '../../../src/events/status-writer.ts'
import { cancelMessages } from '../../../src/messages/cancel.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

// A job's first try claims the message with its `submitting` mark, right before the write (ADR 0008
// amendment of 2026-12-07). Every job a claim would have turned away must still never reach the
// carrier, and whatever ends a job without a submit must still follow a real claim.
describe('a first try claims with its submitting mark (PostgreSQL, carrier simulator)', () => {
  let pg: FreshDatabase
  let db: Db
  let sim: CarrierSim
  let bus: Bus
  let statuses: StatusWriter
  let customer: string
  const closers: (() => Promise<void>)[] = []
  let links = 0

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 8 })
    sim = await createCarrierSim({ receipts: false })
    bus = createMemoryBus()
    statuses = createStatusWriter(db)
    customer = await fundedCustomer(db)
  })
  after(async () => {
    for (const close of closers) await close()
    await statuses?.drain()
    await bus?.close()
    await sim?.close()
    await db?.close()
    await pg?.drop()
  })

  type Kind = 'smpp' | 'http'
  interface Started {
    worker: Worker
    link: CarrierLink
    errors: unknown[]
  }
  /** A worker with one link to the simulator (or to `deadPort`, where nothing listens). */
  const start = async (
    kind: Kind,
    o: {
      window?: number
      failures?: number
      halfOpenAfterMs?: number
      maxAttempts?: number
      deadPort?: number
    } = {},
  ): Promise<Started> => {
    const name = `${kind}-${++links}`
    const window = o.window ?? 10
    const cfg: CarrierConfig =
      kind === 'smpp'
        ? simSmppCarrier(name, o.deadPort ?? sim.smppPort, { window })
        : {
            name,
            type: 'http',
            url: o.deadPort ? `http://127.0.0.1:${o.deadPort}/messages` : sim.httpUrl,
            weight: 100,
            window,
          }
    const carrier = createCarrier(cfg)
    closers.push(() => carrier.close())
    if (kind === 'smpp' && !o.deadPort)
      await waitFor(() => carrier.healthy(), 'the SMPP link to bind', 10_000)
    // One counted failure opens the circuit: a turned-away claim counted as one would show.
    const link = createCarrierLink(cfg, carrier, {
      failures: o.failures ?? 1,
      halfOpenAfterMs: o.halfOpenAfterMs ?? 60_000,
    })
    const errors: unknown[] = []
    const worker = createWorker({
      db,
      bus,
      links: [link],
      statuses,
      baseBackoffMs: 5,
      maxBackoffMs: 20,
      maxAttempts: o.maxAttempts ?? 3,
      onError: (e) => errors.push(e),
    })
    return { worker, link, errors }
  }

  const newJob = async (priority: Priority = 'normal'): Promise<DeliveryJob> => {
    const [id] = await acceptMany(db, customer, 1, priority)
    const { rows } = await db.query<Record<string, string | number | Date>>(
      `SELECT id, created_at, customer_id, to_number, from_sender, body, encoding, segments, price_micros,
              priority, country, expires_at FROM messages WHERE id = $1`,
      [id],
    )
    const m = rows[0]
    assert.ok(m)
    return {
      id: String(m.id),
      created_at: new Date(m.created_at as Date).toISOString(),
      customer_id: String(m.customer_id),
      to: String(m.to_number),
      from: String(m.from_sender),
      body: String(m.body),
      encoding: m.encoding as DeliveryJob['encoding'],
      segments: Number(m.segments),
      price_micros: Number(m.price_micros),
      priority: m.priority as Priority,
      country: String(m.country),
      expires_at: new Date(m.expires_at as Date).toISOString(),
    }
  }

  /** Hands one delivery of `job` to the worker; resolves with how the handler settled it. */
  const deliver = async (w: Worker, job: DeliveryJob, deliveryCount = 1) => {
    let settled: 'ack' | 'nak' | 'term' | undefined
    let delayMs: number | undefined
    await w.handle({
      id: `${job.id}-${deliveryCount}`,
      seq: 0,
      subject: `sms.deliver.${job.priority}`,
      data: job,
      deliveryCount,
      ack: async () => {
        settled ??= 'ack'
      },
      nak: async (ms) => {
        settled ??= 'nak'
        delayMs = ms
      },
      term: async () => {
        settled ??= 'term'
      },
      inProgress: async () => {},
      header: () => undefined,
    })
    return { settled, delayMs }
  }

  const sentTimes = (id: string) => sim.submits().filter((s) => s.messageId === id).length
  const delivery = async (id: string) =>
    (
      await db.query<{ state: string; attempts: number }>(
        'SELECT state, attempts FROM deliveries WHERE message_id = $1',
        [id],
      )
    ).rows[0]
  const status = async (id: string) =>
    (await db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id])).rows[0]?.status
  const ledger = async (id: string) =>
    (
      await db.query<{ kind: string }>('SELECT kind FROM ledger WHERE message_id = $1 ORDER BY id', [id])
    ).rows.map((r) => r.kind)
  /** Nothing of this try is left at the link: no gate slot, no SMPP window slot, circuit closed. */
  const linkIsIdle = (s: Started) => {
    assert.equal(s.link.gate.inUse, 0, 'the gate slot was released')
    const stats = (s.link.carrier as { stats?: () => { inFlight: number } }).stats?.()
    assert.equal(stats?.inFlight ?? 0, 0, 'the SMPP window slot was released')
    assert.equal(s.link.breaker.state, CircuitState.Closed, 'the circuit stayed closed')
  }

  for (const kind of ['smpp', 'http'] as const) {
    it(`${kind}: a first try claims and marks in one write, and a copy of a submitted message never reaches the carrier`, async () => {
      const s = await start(kind)
      const job = await newJob()
      assert.deepEqual(await deliver(s.worker, job), { settled: 'ack', delayMs: undefined })
      assert.deepEqual(await delivery(job.id), { state: 'submitted', attempts: 1 })
      assert.equal(await status(job.id), 'sent')
      // A copy on its first delivery (a dispatcher re-published the job): claimed at the write, turned away there.
      assert.equal((await deliver(s.worker, job, 1)).settled, 'ack')
      assert.equal(sentTimes(job.id), 1, 'sent once')
      assert.deepEqual(await delivery(job.id), { state: 'submitted', attempts: 1 })
      linkIsIdle(s)
      assert.deepEqual(s.errors, [])
    })

    it(`${kind}: a live claim of another worker is nak'ed for its lease and never sent`, async () => {
      const s = await start(kind)
      const job = await newJob()
      assert.equal((await claimNew(db, [job], 60_000)).get(job.id), 1)
      const r = await deliver(s.worker, job)
      assert.equal(r.settled, 'nak')
      assert.ok((r.delayMs ?? 0) >= 100, `retry in ${r.delayMs} ms`)
      assert.equal(sentTimes(job.id), 0)
      assert.deepEqual(await delivery(job.id), { state: 'claimed', attempts: 1 })
      linkIsIdle(s)
    })

    it(`${kind}: a canceled message is skipped, never sent`, async () => {
      const s = await start(kind)
      const job = await newJob()
      const res = await cancelMessages(db, [{ customerId: customer, id: job.id, createdAt: job.created_at }])
      assert.deepEqual(res.canceled, [job.id])
      assert.equal((await deliver(s.worker, job)).settled, 'ack')
      assert.equal(sentTimes(job.id), 0)
      assert.equal(await status(job.id), 'canceled')
      assert.deepEqual(await ledger(job.id), ['charge', 'refund'])
      linkIsIdle(s)
    })

    it(`${kind}: a submit a dead worker left on its way ends unknown, never sent again, not refunded`, async () => {
      const s = await start(kind)
      const job = await newJob()
      assert.equal((await claimNew(db, [job], 1, 'submitting')).get(job.id), 1)
      await waitFor(
        async () =>
          (await db.query('SELECT 1 FROM deliveries WHERE message_id = $1 AND lease_until < now()', [job.id]))
            .rows.length > 0,
        'the lease to run out',
      )
      assert.equal((await deliver(s.worker, job)).settled, 'ack')
      assert.equal(sentTimes(job.id), 0)
      assert.equal(await status(job.id), 'unknown')
      assert.deepEqual(await ledger(job.id), ['charge'])
      linkIsIdle(s)
    })

    it(`${kind}: an expired job is finished only after a real claim`, async () => {
      const s = await start(kind)
      const taken = await newJob()
      assert.equal((await deliver(s.worker, taken)).settled, 'ack')
      const late = { ...taken, expires_at: new Date(Date.now() - 60_000).toISOString() }
      assert.equal((await deliver(s.worker, late, 1)).settled, 'ack')
      assert.equal(await status(taken.id), 'sent', 'a message the carrier took is not expired')
      assert.deepEqual(await ledger(taken.id), ['charge'], 'nor refunded')

      const fresh = await newJob()
      const expired = { ...fresh, expires_at: new Date(Date.now() - 60_000).toISOString() }
      assert.equal((await deliver(s.worker, expired)).settled, 'ack')
      assert.equal(await status(fresh.id), 'expired')
      assert.deepEqual(await ledger(fresh.id), ['charge', 'refund'])
      assert.deepEqual(await delivery(fresh.id), { state: 'final', attempts: 1 }, 'claimed, then closed')
      assert.equal(sentTimes(taken.id) + sentTimes(fresh.id), 1)
    })

    it(`${kind}: a try stalled before its mark holds no claim, so its redelivery is sent, once`, async () => {
      // Window 1, its slot held here: the job waits where a carrier's window makes it wait.
      const stalled = await start(kind, { window: 1 })
      const release = await stalled.link.gate.acquire('normal')
      const job = await newJob()
      const waiting = deliver(stalled.worker, job)
      await waitFor(() => stalled.link.gate.waiting === 1, 'the job to wait for the slot')
      assert.equal(await delivery(job.id), undefined, 'nothing in deliveries before the mark')
      // As if the stalled worker had died: its job comes back, to another worker, and is sent.
      const other = await start(kind)
      assert.equal((await deliver(other.worker, job, 2)).settled, 'ack')
      assert.deepEqual(await delivery(job.id), { state: 'submitted', attempts: 1 })
      // The stalled try, once it gets the slot, finds the message claimed and never writes it.
      release()
      assert.equal((await waiting).settled, 'ack')
      assert.equal(sentTimes(job.id), 1, 'sent once')
      linkIsIdle(stalled)
    })

    it(`${kind}: a retry after a carrier error marks the claim its first try made`, async () => {
      const s = await start(kind, { failures: 1000, maxAttempts: 50 })
      const job = await newJob()
      sim.setOptions({ transientErrorRate: 1 })
      let settled: Promise<{ settled: string | undefined }>
      try {
        settled = deliver(s.worker, job)
        await waitFor(() => sentTimes(job.id) > 0, 'a refused first try', 10_000, 1)
      } finally {
        sim.setOptions({ transientErrorRate: 0 })
      }
      assert.equal((await settled).settled, 'ack')
      assert.deepEqual(await delivery(job.id), { state: 'submitted', attempts: 1 })
      assert.equal(await status(job.id), 'sent')
    })

    it(`${kind}: a first try failing before any mark takes a real claim before its outcome`, async () => {
      // Nothing listens there: SMPP never binds (refused before the write), HTTP cannot connect.
      const s = await start(kind, { deadPort: 1, failures: 1000 })
      const held = await newJob()
      // Another worker is submitting it: left alone, the job comes back later.
      assert.equal((await claimNew(db, [held], 60_000, 'submitting')).get(held.id), 1)
      assert.equal((await deliver(s.worker, held)).settled, 'nak')
      assert.deepEqual(await delivery(held.id), { state: 'submitting', attempts: 1 }, 'its mark untouched')
      assert.deepEqual(await ledger(held.id), ['charge'])
      // No one else has it: claimed, retried, failed, refunded.
      const alone = await newJob()
      assert.equal((await deliver(s.worker, alone)).settled, 'ack')
      assert.equal(await status(alone.id), 'failed')
      assert.deepEqual(await ledger(alone.id), ['charge', 'refund'])
      assert.deepEqual(await delivery(alone.id), { state: 'final', attempts: 1 })
    })
  }

  it('with its circuit not closed, a first try claims before the trial submit (a turned-away claim would close it)', async () => {
    const s = await start('smpp', { failures: 1, halfOpenAfterMs: 50, maxAttempts: 1 })
    const taken = await newJob()
    assert.equal((await deliver(s.worker, taken)).settled, 'ack')
    sim.setOptions({ transientErrorRate: 1 })
    try {
      const failing = await newJob()
      assert.equal((await deliver(s.worker, failing)).settled, 'ack')
      assert.equal(await status(failing.id), 'failed')
    } finally {
      sim.setOptions({ transientErrorRate: 0 })
    }
    assert.equal(s.link.breaker.state, CircuitState.Open)
    await waitFor(() => s.link.candidate().available, 'the circuit to be due for a trial')
    assert.equal((await deliver(s.worker, taken, 1)).settled, 'ack')
    assert.equal(sentTimes(taken.id), 1)
    assert.equal(s.link.breaker.state, CircuitState.Open, 'no trial was spent on a copy')
  })
})
