import { createMemoryBus } from '../../../src/bus/memory-bus.ts'
import { busContract } from './contract.ts'

busContract('memory', async () => {
  const errors: Error[] = []
  const bus = createMemoryBus({ onError: (e) => errors.push(e) })
  return { bus, errors, cleanup: () => bus.close() }
})
