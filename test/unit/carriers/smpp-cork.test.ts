import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { corkUntilTickEnd } from '../../../src/carriers/smpp/cork.ts'

/** A loopback pair: the client socket and what the server side reads, chunk by chunk. */
async function pair(): Promise<{ client: Socket; chunks: Buffer[]; close(): Promise<void> }> {
  const chunks: Buffer[] = []
  const server = createServer((s) => s.on('data', (d: Buffer) => chunks.push(d)))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const client = connect(port, '127.0.0.1')
  client.setNoDelay(true)
  await once(client, 'connect')
  return {
    client,
    chunks,
    close: async () => {
      client.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

const settle = () => new Promise((r) => setTimeout(r, 50))

describe('corkUntilTickEnd', () => {
  it('sends the writes of one tick (promise continuations included) together, after the tick', async () => {
    const p = await pair()
    try {
      const writes = ['a', 'b', 'c'].map(async (x, i) => {
        await Promise.resolve(i)
        corkUntilTickEnd(p.client)
        p.client.write(x)
      })
      await Promise.all(writes)
      // Still held while the tick's continuations run; released right after.
      assert.equal(p.client.writableCorked, 1)
      await new Promise((r) => process.nextTick(r))
      assert.equal(p.client.writableCorked, 0)
      await settle()
      assert.equal(Buffer.concat(p.chunks).toString(), 'abc')
      assert.equal(p.chunks.length, 1, 'one write on the wire')
    } finally {
      await p.close()
    }
  })

  it('does not hold writes past the tick: writes in later ticks are sent each time', async () => {
    const p = await pair()
    try {
      for (const x of ['x', 'y']) {
        corkUntilTickEnd(p.client)
        p.client.write(x)
        await settle()
      }
      assert.equal(Buffer.concat(p.chunks).toString(), 'xy')
      assert.equal(p.chunks.length, 2)
    } finally {
      await p.close()
    }
  })
})
