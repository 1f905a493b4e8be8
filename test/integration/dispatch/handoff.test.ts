// The accept path's handoff to an in-process dispatcher (issue 12): jobs built from memory are the
// jobs the messages read builds, byte for byte; the outbox still decides what is released, so a
// restart (empty map) releases everything once, and a row another dispatcher holds is not
// published again from the map.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createBiller } from '../../../src/billing/biller.ts'
import { batchItems } from '../../../src/bus/batch.ts'
import type { Bus } from '../../../src/bus/bus.ts'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import type { Db, Queryable } from '../../../src/db/db.ts'
import { migrate } from '../../../src/db/migrate.ts'
import { createPgliteDb } from '../../../src/db/pglite.ts'
import { jobOfMessage } from '../../../src/dispatch/delivery-job.ts'
import { createDispatcher, type Dispatcher } from '../../../src/dispatch/dispatcher.ts'
import type { DeliveryJob, NewMessage } from '../../../src/domain/message.ts'
import { runMaintenance } from '../../../src/maintenance/maintenance.ts'
import { createCustomer, setRates, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { acceptRequest, fundedCustomer, renderStub } from '../../helpers/messages.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

/** A bus that records every job handed to publish (before the broker's msgId de-duplication). */
function recordingBus(gate?: () => Promise<void>): Bus & { published: DeliveryJob[] } {
  const bus = createMemoryBus()
  const published: DeliveryJob[] = []
  return {
    ...bus,
    published,
    // No workers here: the windows are always open.
    pending: async () => 0,
    publish: async (subject, data, opts) => {
      await gate?.()
      published.push(...(batchItems(data) as DeliveryJob[]))
      return bus.publish(subject, data, opts)
    },
  }
}

/** The db, with every statement's text recorded (in transactions too). */
function spyDb(db: Db, log: string[]): Db {
  const spy = (q: Queryable): Queryable => ({
    query: (sql, params, opts) => {
      log.push(sql)
      return q.query(sql, params, opts)
    },
    exec: (sql) => q.exec(sql),
  })
  return {
    ...spy(db),
    kind: db.kind,
    transaction: (fn) => db.transaction((tx) => fn(spy(tx))),
    close: () => db.close(),
  }
}

const readsMessages = (log: string[]) => log.some((sql) => /\bFROM messages\b/.test(sql))

/** Passes until one releases nothing; how many were released (a pass that never ends fails). */
async function drain(d: Dispatcher): Promise<number> {
  let total = 0
  for (let i = 0; i < 50; i++) {
    const n = await d.pass()
    if (n === 0) return total
    total += n
  }
  throw new Error(`still releasing after 50 passes (${total} so far)`)
}

describe('handoff from the accept path to the dispatcher', () => {
  let pg: FreshDatabase
  let t: TestApp
  let c: TestCustomer
  /** Where the app's accepts are handed over; also recorded in `handed`. */
  let target: ((m: readonly NewMessage[]) => void) | undefined
  const handed: NewMessage[] = []

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url, {
      deps: {
        handoff: (ms) => {
          handed.push(...ms)
          target?.(ms)
        },
      },
    })
    await setRates(t.app)
    c = await createCustomer(t.app, { credit: '1000.00' })
  })
  after(async () => {
    await t?.close()
    await pg?.drop()
  })

  const send = async (payload: object) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: c.auth,
      payload: { to: '+14155550123', from: 'ACME', body: 'hello', ...payload },
    })
    assert.equal(res.statusCode, 202, res.body)
    return (res.json() as { id: string }).id
  }
  /** Messages of every kind the job carries differently. */
  const sendVariety = async (opts: { scheduled: boolean }) => {
    const ids = [
      await send({}),
      await send({ body: 'Привет, мир ✓ — 你好' }), // UCS-2
      await send({ body: 'x'.repeat(400) }), // multipart GSM-7
      await send({ body: '€'.repeat(200) }), // multipart, escaped GSM-7 characters
      await send({ status_callback_url: 'https://acme.example/callbacks/sms' }),
      await send({ to: '+447911123456', priority: 'otp', validity_period: 600 }),
      await send({ priority: 'bulk', body: '🙂 '.repeat(50) }), // multipart UCS-2 with surrogates
    ]
    if (opts.scheduled) {
      ids.push(await send({ send_at: new Date(Date.now() + 3_600_000).toISOString() }))
      ids.push(
        await send({
          send_at: new Date(Date.now() + 7_200_000).toISOString(),
          status_callback_url: 'https://acme.example/cb',
          body: 'Grüße',
        }),
      )
    }
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: c.auth,
      payload: {
        from: 'ACME',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the batch's own template syntax
        body: 'Hi ${name}',
        recipients: [
          { to: '+14155550124', params: { name: 'Ann' } },
          { to: '+14155550125', params: { name: 'Бob' } },
        ],
      },
    })
    assert.equal(res.statusCode, 202, res.body)
    return ids
  }

  it('a job built from what the accept wrote equals the one read from messages, byte for byte', async () => {
    handed.length = 0
    target = undefined
    const ids = await sendVariety({ scheduled: true })
    assert.equal(handed.length, ids.length + 2, 'every accepted message, the batch’s included')
    assert.ok(handed.every((m) => ids.includes(m.id) || m.batchId !== null))
    // The scheduled ones are due now, so this pass releases them too.
    await t.db.query('UPDATE outbox SET available_at = now()')
    const bus = recordingBus()
    const log: string[] = []
    const d = createDispatcher({ db: spyDb(t.db, log), bus })
    assert.equal(await drain(d), handed.length)
    assert.ok(readsMessages(log), 'with nothing handed over, the jobs come from messages')
    const fromDb = new Map(bus.published.map((j) => [j.id, j]))
    for (const m of handed) {
      const mine = jobOfMessage(m)
      const theirs = fromDb.get(m.id)
      assert.deepEqual(mine, theirs)
      assert.equal(JSON.stringify(mine), JSON.stringify(theirs))
    }
    await bus.close()
  })

  it('with the jobs handed over, a pass reads no message and publishes the same jobs', async () => {
    const bus = recordingBus()
    const log: string[] = []
    const d = createDispatcher({ db: spyDb(t.db, log), bus })
    handed.length = 0
    target = d.handoff
    await sendVariety({ scheduled: false })
    target = undefined
    assert.equal(await drain(d), handed.length)
    assert.ok(!readsMessages(log), `read messages: ${log.filter((s) => /FROM messages/.test(s)).join('; ')}`)
    assert.deepEqual(
      new Map(bus.published.map((j) => [j.id, JSON.stringify(j)])),
      new Map(handed.map((m) => [m.id, JSON.stringify(jobOfMessage(m))])),
    )
    await bus.close()
  })

  it('after a restart (nothing in memory) every message is released exactly once', async () => {
    const bus = recordingBus()
    const first = createDispatcher({ db: t.db, bus, maxPerPass: 40 })
    handed.length = 0
    target = first.handoff
    const others = [c, await createCustomer(t.app, { credit: '100.00' })]
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: (others[i % 2] as TestCustomer).auth,
          payload: { to: '+14155550123', from: 'ACME', body: `m${i}` },
        }),
      ),
    )
    target = undefined
    assert.equal(handed.length, 200)
    // One pass from memory, then the process "dies": its map is gone with it.
    const released = await first.pass()
    assert.ok(released > 0 && released < 200, `released ${released}`)
    const log: string[] = []
    const second = createDispatcher({ db: spyDb(t.db, log), bus })
    assert.equal(await drain(second), 200 - released)
    assert.ok(readsMessages(log))
    const counts = new Map<string, number>()
    for (const j of bus.published) counts.set(j.id, (counts.get(j.id) ?? 0) + 1)
    assert.deepEqual(new Set(counts.keys()), new Set(handed.map((m) => m.id)))
    assert.ok(
      [...counts.values()].every((n) => n === 1),
      'a message was published twice',
    )
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')
    assert.equal(rows[0]?.n, 0)
    await bus.close()
  })

  it('a handed-over job whose row another dispatcher holds is not published again', async () => {
    // B claims the rows and is slow to publish; A has every job in memory.
    let open!: () => void
    const gate = new Promise<void>((r) => {
      open = r
    })
    let claimed!: () => void
    const inPublish = new Promise<void>((r) => {
      claimed = r
    })
    const busA = recordingBus()
    const busB = recordingBus(async () => {
      claimed()
      await gate
    })
    const a = createDispatcher({ db: t.db, bus: busA })
    const b = createDispatcher({ db: t.db, bus: busB })
    handed.length = 0
    target = a.handoff
    for (let i = 0; i < 20; i++) await send({ body: `held ${i}` })
    target = undefined
    const bPass = b.pass()
    await inPublish
    // B holds every row (locked, deleted, not committed): A skips them.
    assert.equal(await a.pass(), 0)
    open()
    assert.equal(await bPass, 20)
    assert.equal(await a.pass(), 0)
    assert.equal(busA.published.length, 0, 'A published jobs B had claimed')
    assert.deepEqual(busB.published.map((j) => j.id).sort(), handed.map((m) => m.id).sort())
    await busA.close()
    await busB.close()
  })

  it('a failed publish leaves the rows; the next pass releases them once, from memory', async () => {
    let fail = true
    const bus = recordingBus(async () => {
      if (fail) throw new Error('broker down')
    })
    const log: string[] = []
    const d = createDispatcher({ db: spyDb(t.db, log), bus, onError: () => {} })
    handed.length = 0
    target = d.handoff
    for (let i = 0; i < 5; i++) await send({ body: `retry ${i}` })
    target = undefined
    await assert.rejects(d.pass(), /broker down/)
    fail = false
    assert.equal(await drain(d), 5)
    assert.ok(!readsMessages(log), 'the jobs stayed in memory after the failed pass')
    assert.deepEqual(bus.published.map((j) => j.id).sort(), handed.map((m) => m.id).sort())
    await bus.close()
  })
})

describe('handoff on PGlite (the embedded default)', () => {
  it('the one-statement claim and the messages read run there: each message released once, from memory or not', async () => {
    const db = await createPgliteDb()
    try {
      await migrate(db)
      await runMaintenance(db)
      const bus = recordingBus()
      const log: string[] = []
      const d = createDispatcher({ db: spyDb(db, log), bus })
      let on = true
      const handed: NewMessage[] = []
      const biller = createBiller({
        db,
        render: renderStub,
        handoff: (ms) => {
          if (on) d.handoff(ms)
          handed.push(...ms)
        },
      })
      const customers = [await fundedCustomer(db), await fundedCustomer(db)]
      const send = (n: number) =>
        Promise.all(
          Array.from({ length: n }, (_, i) =>
            biller.accept(acceptRequest(customers[i % 2] as string, { body: `é ${i}` })),
          ),
        )
      await send(30)
      on = false
      await send(30)
      assert.equal(await drain(d), 60)
      assert.ok(readsMessages(log), 'the 30 not handed over were read')
      assert.deepEqual(
        new Map(bus.published.map((j) => [j.id, JSON.stringify(j)])),
        new Map(handed.map((m) => [m.id, JSON.stringify(jobOfMessage(m))])),
      )
      assert.equal(bus.published.length, 60)
      await biller.drain()
      await bus.close()
    } finally {
      await db.close()
    }
  })
})
