/** Prints publish and consume rates for one adapter; measured, never asserted (STYLE.md). */
import { it } from 'node:test'
import { BULK, type Job, type WithBus } from './fixtures.ts'
import { eventually, Inbox } from './wait.ts'

export function throughputCase(name: string, withBus: WithBus): void {
  it(
    'prints publish and consume rates for 20k messages (measured, not asserted)',
    withBus(async ({ bus }, t) => {
      const N = 20_000
      const WINDOW = 1_000
      const t0 = performance.now()
      let next = 0
      const publisher = async () => {
        while (next < N) {
          const n = next++
          await bus.publish(
            BULK,
            { n, to: '+14155550123', body: 'Your code is 123456' },
            { msgId: `tp-${n}` },
          )
        }
      }
      await Promise.all(Array.from({ length: WINDOW }, publisher))
      const t1 = performance.now()
      let handled = 0
      const done = new Inbox<number>()
      await bus.consume<Job>({
        durable: 'bench',
        subject: BULK,
        concurrency: 256,
        maxAckPending: 10_000,
        handler: async (m) => {
          await m.ack()
          if (++handled % 1000 === 0) done.push(handled)
        },
      })
      await done.until(() => handled >= N, `${N} consumed`, 60_000)
      const t2 = performance.now()
      const rate = (ms: number) => Math.round((N / ms) * 1000)
      const line = `${name}: publish ${rate(t1 - t0)} msg/s, consume+ack ${rate(t2 - t1)} msg/s (N=${N}, ${WINDOW} publishes in flight, msgId on each)`
      t.diagnostic(line)
      console.log(`[throughput] ${line}`)
      await eventually(async () => (await bus.pending('bench')) === 0, 'pending 0', 10_000)
    }),
  )
}
