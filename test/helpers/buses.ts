// The buses a contract test runs against: the in-process one and NATS JetStream on a stream and
// subject prefix of its own (removed by cleanup).

import { randomBytes } from 'node:crypto'
import type { Bus } from '../../src/bus/bus.ts'
import { createMemoryBus } from '../../src/bus/memory-bus.ts'
import { createNatsBus } from '../../src/bus/nats-bus.ts'
import { deleteStream, NATS_URL } from './nats.ts'

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
