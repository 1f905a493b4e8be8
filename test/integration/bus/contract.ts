/**
 * The Bus contract: every adapter (JetStream, in-process) must pass the same tests. Each test gets
 * a fresh bus (on NATS: its own stream and subject prefix) and waits on events or conditions
 * with deadlines. Timings use short ack waits so redelivery tests take well under a second.
 */
import { describe } from 'node:test'
import { deliveryCases } from './delivery-cases.ts'
import { durableCases } from './durable-cases.ts'
import type { MakeBus, WithBus } from './fixtures.ts'
import { redeliveryCases } from './redelivery-cases.ts'
import { throughputCase } from './throughput.ts'

export type { BusUnderTest, MakeBus } from './fixtures.ts'

export function busContract(name: string, makeBus: MakeBus): void {
  const withBus: WithBus = (fn) => async (ctx) => {
    const b = await makeBus()
    try {
      await fn(b, ctx)
    } finally {
      await b.cleanup()
    }
  }

  describe(`bus contract: ${name}`, () => {
    deliveryCases(withBus)
    redeliveryCases(withBus)
    durableCases(withBus)
  })

  describe(`bus throughput: ${name}`, () => {
    throughputCase(name, withBus)
  })
}
