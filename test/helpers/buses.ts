// The buses a contract test runs against: the in-process one and NATS JetStream on a stream and
// subject prefix of its own (removed by cleanup).

import { randomBytes } from 'node:crypto'
import type { Bus } from '../../src/bus/bus.ts'
import { createMemoryBus } from '../../src/bus/memory-bus.ts'
import { createNatsBus } from '../../src/bus/nats-bus.ts'
import { deleteStream, NATS_URL } from './nats.ts'
import { waitFor } from './wait.ts'

export interface BusUnderTest {
  bus: Bus
  cleanup(): Promise<void>
}

export const busesUnderTest: Record<'memory' | 'nats', () => Promise<BusUnderTest>> = {
  memory: async () => {
    const bus = createMemoryBus()
    return { bus, cleanup: () => bus.close() }
  },
  nats: async () => {
    const id = randomBytes(5).toString('hex')
    const stream = `TEST_BUS_${id}`
    const bus = await createNatsBus({ servers: NATS_URL, stream, subjectPrefix: `t_${id}` })
    return {
      bus,
      async cleanup() {
        await bus.close()
        await deleteStream(stream)
      },
    }
  },
}

/**
 * Runs relay passes until `events` more status events are on the bus: a pass publishes nothing
 * while an older transaction of the cluster (another test's, another database's) is open.
 */
export function relayUntil(relay: { pass(): Promise<number> }, deadlineMs = 20_000) {
  return async (events: number): Promise<void> => {
    let n = 0
    const relayed = async () => {
      n += await relay.pass()
      return n >= events
    }
    await waitFor(relayed, `${events} events relayed`, deadlineMs)
  }
}
