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

describe('fair limit', () => {
  it('runs at most `concurrency` at once and lets a late key in before the rest of a flood', async () => {
    const limit = createFairLimit(2)
    const order: string[] = []
    let running = 0
    let most = 0
    const gates: (() => void)[] = []
    const job = (tag: string) => async () => {
      running++
      most = Math.max(most, running)
      order.push(tag)
      await new Promise<void>((r) => gates.push(r))
      running--
    }
    const all = Array.from({ length: 6 }, (_, i) => limit.run('whale', job(`w${i}`)))
    all.push(limit.run('small', job('s')))
    await tick()
    assert.deepEqual(order, ['w0', 'w1'])
    assert.equal(limit.waiting, 5)
    while (order.length < 7 || gates.length > 0) {
      gates.shift()?.()
      await tick()
      await tick()
    }
    await Promise.all(all)
    // FIFO would run s last; round robin runs it after one more job of the customer already waiting.
    assert.deepEqual(order, ['w0', 'w1', 'w2', 's', 'w3', 'w4', 'w5'])
    assert.equal(most, 2)
    assert.equal(limit.active, 0)
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
