import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Bus } from '../../../src/bus/bus.ts'
import { createNatsBus } from '../../../src/bus/nats-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { type CarrierSim, createCarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import { createDispatcher, type Dispatcher } from '../../../src/dispatch/dispatcher.ts'
import { BIN } from '../../helpers/bin.ts'
import { acceptMany, fundedCustomer } from '../../helpers/messages.ts'
import { deleteStream, NATS_URL } from '../../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { waitFor } from '../../helpers/wait.ts'

/** The connector's default window (the carrier file below sets none). */
const SMPP_WINDOW = 10

// Invariants 3 and 4 across a kill -9 and a graceful stop: nothing accepted is lost, nothing
// reaches the carrier twice.
describe('a delivery worker process stopped mid-load (PostgreSQL, NATS, SMPP simulator)', () => {
  let pg: FreshDatabase
  let db: Db
  let sim: CarrierSim
  let bus: Bus
  let dispatcher: Dispatcher
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-kill-'))
  const stream = `K_${randomBytes(4).toString('hex')}`
  const prefix = `k${randomBytes(4).toString('hex')}`
  const workers: ChildProcess[] = []

  before(async () => {
    pg = await freshDatabase()
    db = createPostgresDb({ url: pg.url, poolSize: 6 })
    sim = await createCarrierSim({ latencyMs: { min: 1, max: 5 }, receiptDelayMs: { min: 5, max: 50 } })
    writeFileSync(
      join(dir, 'carriers.json'),
      // No `window`: the defaults an operator gets (SMPP window 10, 100 submits at once per provider).
      JSON.stringify({ carriers: [simSmppCarrier('sim', sim.smppPort)] }),
    )
    bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: prefix })
    dispatcher = createDispatcher({ db, bus, window: 500 })
  })
  after(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL')
    await dispatcher?.stop()
    await bus?.close()
    await deleteStream(stream)
    await sim?.close()
    await db?.close()
    await pg?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  const startWorker = () => {
    const w = spawn(process.execPath, [BIN, 'worker'], {
      env: {
        ...process.env,
        DATABASE_URL: pg.url,
        NATS_URL,
        SMSGW_NATS_STREAM: stream,
        SMSGW_NATS_PREFIX: prefix,
        SMSGW_CARRIERS: join(dir, 'carriers.json'),
        LOG_LEVEL: 'warn',
        SMSGW_DELIVERY_LEASE_MS: '3000',
        PORT: '0',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    workers.push(w)
    return w
  }
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await db.query<{ n: string }>(sql, params)).rows[0]?.n)

  it('after two kills every accepted message is final, nothing is sent twice, and only submits the carrier may have end unknown', async () => {
    const N = 4500
    const KILLS = 2
    const customers = await Promise.all(
      Array.from({ length: 10 }, () => fundedCustomer(db, { rateLimitMps: 100_000 })),
    )
    for (const c of customers) await acceptMany(db, c, N / customers.length, 'normal')
    let worker = startWorker()
    dispatcher.start()
    const deadline = Date.now() + 120_000
    const submitted = () => count("SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitted'")
    const inDoubt = new Set<string>()
    const perKill: Array<{ submitting: number; received: number; notReceived: number }> = []
    for (let k = 1; k <= KILLS; k++) {
      // Kill under load: a good share through, plenty still in flight.
      const at = (k * N) / (KILLS + 1)
      await waitFor(async () => (await submitted()) >= at, `${at} submitted`, 90_000)
      worker.kill('SIGKILL')
      await new Promise((r) => worker.once('exit', r))
      // What the dead worker left marked `submitting` ends unknown; did the carrier get each one?
      // Read once the simulator has seen the link close (anything the kernel still flushed is in).
      await waitFor(async () => sim.counters().smpp.boundSessions === 0, 'the link to close', 30_000)
      const { rows } = await db.query<{ message_id: string }>(
        "SELECT message_id FROM deliveries WHERE state = 'submitting'",
      )
      const received = new Set(sim.receivedMessageIds())
      const fresh = rows.map((r) => r.message_id).filter((id) => !inDoubt.has(id))
      for (const id of fresh) inDoubt.add(id)
      const notReceived = fresh.filter((id) => !received.has(id)).length
      perKill.push({ submitting: fresh.length, received: fresh.length - notReceived, notReceived })
      worker = startWorker()
    }
    const open = () =>
      count(
        "SELECT count(*)::text AS n FROM messages WHERE status IN ('queued','scheduled','sending','sent')",
      )
    while ((await open()) > 0) {
      if (Date.now() > deadline + 60_000) {
        const { rows } = await db.query('SELECT status, count(*)::int AS n FROM messages GROUP BY 1')
        const { rows: d } = await db.query('SELECT state, count(*)::int AS n FROM deliveries GROUP BY 1')
        throw new Error(`messages did not reach a final status: ${JSON.stringify(rows)} ${JSON.stringify(d)}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    const delivered = await count("SELECT count(*)::text AS n FROM messages WHERE status = 'delivered'")
    const { rows: unknownRows } = await db.query<{ id: string }>(
      "SELECT id FROM messages WHERE status = 'unknown'",
    )
    const c = sim.counters()
    for (const [i, f] of perKill.entries())
      console.log(
        `kill ${i + 1}: ${f.submitting} left submitting → unknown; carrier received ${f.received} ` +
          `(${c.smpp.unanswered} unanswered in all), never received ${f.notReceived}`,
      )
    console.log(`after ${KILLS} kills: ${delivered} delivered, ${unknownRows.length} unknown, 0 duplicates`)
    // Messages whose submit was on its way when a worker died are never sent again: they end
    // `unknown` (the carrier may have them). Everything else is delivered.
    assert.equal(delivered + unknownRows.length, N)
    assert.deepEqual(c.duplicates, {}, `duplicates at the carrier: ${JSON.stringify(c.duplicates)}`)
    assert.ok(c.uniqueMessageIds >= delivered && c.uniqueMessageIds <= N)
    // Unknown only where a submit may have reached the carrier: the ones a dead worker left mid-submit.
    for (const { id } of unknownRows) assert.ok(inDoubt.has(id), `${id} ended unknown but was never in doubt`)
    // The submitting mark commits right before the write, inside a slot of the SMPP window (10 by
    // default), so of what a kill leaves mid-submit, at most a window never reached the carrier.
    // (The mark used to commit before the window wait: 100 per kill, 90 of them never sent.) The
    // rest were received: answered, but their `submitted` group commit had not landed yet. Within
    // the window, a mark that PostgreSQL committed but the dead worker had not read back yet looks
    // the same as one whose PDU went out: that part stays unknown.
    for (const [i, f] of perKill.entries())
      assert.ok(
        f.notReceived <= SMPP_WINDOW,
        `kill ${i + 1}: ${f.submitting} left mid-submit, ${f.notReceived} never received`,
      )
  })

  it('SIGTERM drains: the worker exits 0 with nothing left half-sent, and every message ends delivered', async () => {
    const N = 2000
    // The worker left running by the test before stops first, so only the one below takes these.
    for (const w of workers.filter((w) => w.exitCode === null && w.signalCode === null)) {
      w.kill('SIGTERM')
      await new Promise((r) => w.once('exit', r))
    }
    const customers = await Promise.all(
      Array.from({ length: 10 }, () => fundedCustomer(db, { rateLimitMps: 100_000 })),
    )
    const ids = customers
    for (const c of customers) await acceptMany(db, c, N / customers.length, 'normal')
    sim.resetCounters()
    const first = startWorker()
    dispatcher.start()
    const submitted = () =>
      count(
        "SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitted' AND customer_id = ANY($1::uuid[])",
        [ids],
      )
    const deadline = Date.now() + 90_000
    while ((await submitted()) < N / 4) {
      if (Date.now() > deadline) throw new Error('worker made no progress')
      await new Promise((r) => setTimeout(r, 20))
    }
    first.kill('SIGTERM')
    const code = await new Promise((r) => first.once('exit', r))
    assert.equal(code, 0, 'a graceful stop exits 0')
    // Drained: every submit that left has its answer recorded; no claim is left mid-submit.
    const halfSent = await count(
      "SELECT count(*)::text AS n FROM deliveries WHERE state = 'submitting' AND customer_id = ANY($1::uuid[])",
      [ids],
    )
    assert.equal(halfSent, 0)
    assert.equal(
      await submitted(),
      sim.counters().uniqueMessageIds,
      'the carrier has exactly what we recorded',
    )
    assert.ok((await submitted()) < N, 'the stop came mid-load')
    startWorker()
    const open = () =>
      count(
        "SELECT count(*)::text AS n FROM messages WHERE status NOT IN ('delivered','undelivered','failed','rejected','expired','unknown') AND customer_id = ANY($1::uuid[])",
        [ids],
      )
    while ((await open()) > 0) {
      if (Date.now() > deadline + 60_000) throw new Error('messages did not reach a final status')
      await new Promise((r) => setTimeout(r, 50))
    }
    const delivered = await count(
      "SELECT count(*)::text AS n FROM messages WHERE status = 'delivered' AND customer_id = ANY($1::uuid[])",
      [ids],
    )
    assert.equal(delivered, N, 'no message ends unknown after a graceful stop')
    assert.deepEqual(sim.counters().duplicates, {})
  })
})
