// Ports for the run's processes. The kernel may hand the same free port to two back-to-back
// look-ups (the first is closed again before the second), so every port given out is remembered.
import { freePort } from '../bench/free-port.ts'

const given = new Set<number>()

export async function uniquePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await freePort()
    if (!given.has(port)) {
      given.add(port)
      return port
    }
  }
  throw new Error('no unused free port after 100 tries')
}
