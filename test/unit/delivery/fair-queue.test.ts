import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFairLimit, FairQueue } from '../../../src/delivery/fair-queue.ts'

const tick = () => new Promise((r) => setImmediate(r))

describe('fair queue', () => {
  it('serves keys round robin, each key in its own order', () => {
    const q = new FairQueue<string>()
    for (let i = 1; i <= 4; i++) q.push('whale', `w${i}`)
    q.push('a', 'a1')
    q.push('b', 'b1')
    q.push('a', 'a2')
    assert.equal(q.size, 7)
    const out: string[] = []
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x)
    assert.deepEqual(out, ['w1', 'a1', 'b1', 'w2', 'a2', 'w3', 'w4'])
    assert.equal(q.size, 0)
  })

  it('a key that arrives behind a long queue waits for one item of each waiting key', () => {
    const q = new FairQueue<string>()
    for (let i = 0; i < 1000; i++) q.push('whale', `w${i}`)
    q.shift()
    q.push('small', 's')
    assert.equal(q.shift(), 'w1')
    assert.equal(q.shift(), 's')
  })
})

/** Runs tagged jobs through a limit, each held until released, and records the order they start. */
function harness(limit: ReturnType<typeof createFairLimit>) {
  const order: string[] = []
  const holds: (() => void)[] = []
  let running = 0
  let most = 0
  const runs: Promise<void>[] = []
  const add = (key: string, tag: string) =>
    runs.push(
      limit.run(key, async () => {
        running++
        most = Math.max(most, running)
        order.push(tag)
        await new Promise<void>((r) => holds.push(r))
        running--
      }),
    )
  const finishAll = async () => {
    while (holds.length > 0 || limit.active > 0) {
      holds.shift()?.()
      await tick()
      await tick()
    }
    await Promise.all(runs)
  }
  return { order, add, finishAll, most: () => most }
}

describe('fair limit', () => {
  it("lets a small customer's job in before the rest of a flood that came first", async () => {
    const limit = createFairLimit(2, 1)
    const h = harness(limit)
    for (let i = 0; i < 6; i++) h.add('whale', `w${i}`)
    h.add('small', 's')
    await tick()
    assert.deepEqual(h.order, ['w0', 'w1'])
    assert.equal(limit.waiting, 5)
    await h.finishAll()
    // FIFO (p-limit) would run s last.
    assert.deepEqual(h.order, ['w0', 'w1', 's', 'w2', 'w3', 'w4', 'w5'])
    assert.equal(h.most(), 2)
    assert.equal(limit.active, 0)
  })

  it('within the bound, customers are served in arrival order; beyond it a flood gets its bound', async () => {
    const limit = createFairLimit(1, 2)
    const h = harness(limit)
    h.add('whale', 'w0') // runs
    h.add('whale', 'w1') // the whale's second admitted job: in the line
    h.add('whale', 'w2') // beyond its bound: waits in its own queue
    h.add('whale', 'w3')
    h.add('a', 'a0')
    h.add('b', 'b0')
    h.add('a', 'a1')
    h.add('c', 'c0')
    await h.finishAll()
    // w2 joins the line when w0 ends (the whale is back under its bound), behind what was there.
    assert.deepEqual(h.order, ['w0', 'w1', 'a0', 'b0', 'a1', 'c0', 'w2', 'w3'])
  })

  it('a flood alone gets every slot', async () => {
    const limit = createFairLimit(4, 1)
    const h = harness(limit)
    for (let i = 0; i < 8; i++) h.add('whale', `w${i}`)
    await tick()
    assert.equal(limit.active, 4)
    await h.finishAll()
    assert.deepEqual(h.order, ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'])
    assert.equal(h.most(), 4)
  })

  it('frees the slot when a run throws', async () => {
    const limit = createFairLimit(1)
    await assert.rejects(
      limit.run('a', async () => {
        throw new Error('boom')
      }),
      /boom/,
    )
    assert.equal(await limit.run('a', async () => 7), 7)
    assert.equal(limit.active, 0)
  })
})
