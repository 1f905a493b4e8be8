import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import type { Carrier, SubmitRequest } from '../../../src/carriers/carrier.ts'
import { TransientCarrierError } from '../../../src/carriers/errors.ts'
import { createPipeline, type Pipeline } from '../../../src/delivery/pipeline.ts'
import { createCustomer, sendBody, setRates, startApp, type TestApp } from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'

// A carrier that takes the first part of a multipart message and then fails the second: the
// message must never be sent again (its first part would reach the handset twice) and, since the
// carrier holds part of it, it is not refunded.
describe('a multipart message the carrier took only partly', () => {
  let pg: FreshDatabase
  let t: TestApp
  let pipeline: Pipeline
  const submits: SubmitRequest[] = []
  const partial: Carrier = {
    name: 'partial',
    async submit(req) {
      submits.push(req)
      throw new TransientCarrierError('part 2 failed', {
        code: 'carrier_error',
        carrier: 'partial',
        carrierStatus: 8,
        acceptedCarrierIds: [`c-${submits.length}-1`],
      })
    },
    onReceipt() {},
    onInbound() {},
    healthy: () => true,
    close: async () => {},
  }

  before(async () => {
    pg = await freshDatabase()
    t = await startApp(pg.url)
    await setRates(t.app)
    pipeline = createPipeline({
      db: t.db,
      bus: createMemoryBus(),
      carriers: [{ name: 'partial', type: 'http', url: 'http://127.0.0.1:1/unused', weight: 1 }],
      makeCarrier: () => partial,
      worker: { baseBackoffMs: 5, maxBackoffMs: 10 },
      dispatcher: { idleMs: 5 },
    })
    await pipeline.start()
  })
  after(async () => {
    await pipeline?.stop()
    await t?.close()
    await pg?.drop()
  })

  it('is submitted once, ends failed with the part recorded, and is not refunded', async () => {
    const { auth } = await createCustomer(t.app, { credit: '1.00' })
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: auth,
      payload: sendBody({ body: 'x'.repeat(200) }),
    })
    assert.equal(r.statusCode, 202, r.body)
    const id = r.json().id as string
    const deadline = Date.now() + 20_000
    let status = ''
    while (Date.now() < deadline) {
      status = (await t.db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id]))
        .rows[0]?.status as string
      if (status === 'failed') break
      await new Promise((res) => setTimeout(res, 20))
    }
    assert.equal(status, 'failed')
    assert.equal(submits.length, 1, 'never submitted again')
    const { rows: refs } = await t.db.query<{ part: number; parts: number }>(
      'SELECT part, parts FROM carrier_refs WHERE message_id = $1',
      [id],
    )
    assert.deepEqual(
      refs.map((x) => [Number(x.part), Number(x.parts)]),
      [[1, 2]],
    )
    const { rows: ledger } = await t.db.query<{ kind: string }>(
      'SELECT kind FROM ledger WHERE message_id = $1 ORDER BY id',
      [id],
    )
    assert.deepEqual(
      ledger.map((x) => x.kind),
      ['charge'],
    )
  })
})
