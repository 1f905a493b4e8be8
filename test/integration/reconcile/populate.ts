import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { simSmppCarrier } from '../../../src/carriers/config.ts'
import { createCarrier } from '../../../src/carriers/create-carrier.ts'
import type { CarrierSim } from '../../../src/carriers/sim/carrier-sim.ts'
import { createPipeline } from '../../../src/delivery/pipeline.ts'
import { createCustomer, sendBody, setRates, startApp } from '../../helpers/app.ts'
import { waitFor } from '../../helpers/wait.ts'

/**
 * Fills a database the way production does — HTTP accepts (group commit), the dispatcher, a
 * worker and the SMPP simulator — with delivered and undelivered messages, messages the carrier
 * rejected and ones whose retries ran out (both refunded), and one scheduled for tomorrow. Every
 * connection is closed on return, so the database can serve as a template.
 */
export async function populate(url: string, sim: CarrierSim): Promise<void> {
  const t = await startApp(url)
  const bus = createMemoryBus()
  const pipeline = createPipeline({
    makeCarrier: createCarrier,
    db: t.db,
    bus,
    carriers: [simSmppCarrier('sim', sim.smppPort)],
    breaker: { failures: 1000, halfOpenAfterMs: 100 },
    worker: { baseBackoffMs: 5, maxBackoffMs: 10, maxAttempts: 2 },
    dispatcher: { idleMs: 5 },
  })
  try {
    await setRates(t.app)
    const customers = [
      await createCustomer(t.app, { name: 'a', credit: '10.00' }),
      await createCustomer(t.app, { name: 'b', credit: '5.00' }),
    ]
    await pipeline.start()
    let n = 0
    const send = async (over: Record<string, unknown> = {}) => {
      const c = customers[n++ % customers.length]
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: c?.auth,
        payload: sendBody(over),
      })
      if (r.statusCode !== 202) throw new Error(`send: ${r.statusCode} ${r.body}`)
    }
    const finalCount = async () => {
      const { rows } = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages WHERE status IN ('delivered', 'undelivered', 'failed', 'rejected')`,
      )
      return Number(rows[0]?.n)
    }
    // Concurrent sends share accept groups, so the ledger holds multi-row group commits.
    const phase = async (count: number, over: Record<string, unknown> = {}) => {
      const before = await finalCount()
      await Promise.all(Array.from({ length: count }, () => send(over)))
      await waitFor(
        async () => (await finalCount()) === before + count,
        `${count} messages to be final`,
        30_000,
      )
    }
    sim.setOptions({ outcomeMix: { delivered: 3, undelivered: 1, expired: 0 }, receiptDelayMs: 2 })
    await phase(24)
    await phase(4, { body: 'Привет! '.repeat(20) }) // 3-part UCS-2
    sim.setOptions({ permanentErrorRate: 1 })
    await phase(5)
    sim.setOptions({ permanentErrorRate: 0, transientErrorRate: 1 })
    await phase(5)
    sim.setOptions({ transientErrorRate: 0 })
    await send({ send_at: new Date(Date.now() + 86_400_000).toISOString() })
  } finally {
    await pipeline.stop()
    await bus.close()
    await t.close()
  }
}
