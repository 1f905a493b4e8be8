// Asks the kernel for an unused TCP port, so parallel or leftover runs never collide on a fixed one.
import { createServer } from 'node:net'

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))))
    })
  })
}
