import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFairLimit, FairQueue } from '../../../src/delivery/fair-queue.ts'
import { createUsage } from '../../../src/domain/fair-share.ts'

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

  it('a key not served lately goes before a key that was, whatever their arrival order', () => {
    const q = new FairQueue<string>()
    for (let i = 0; i < 1000; i++) q.push('whale', `w${i}`)
    q.shift()
    q.push('small', 's')
    // Round robin would give w1 first (the whale's turn came before the small key joined).
    assert.equal(q.shift(), 's')
    assert.equal(q.shift(), 'w1')
  })

  it('a campaign beside floods served for a while takes every turn until it has had as much', () => {
    const q = new FairQueue<string>()
    for (let i = 0; i < 20; i++) {
      q.push('whale-a', `a${i}`)
      q.push('whale-b', `b${i}`)
    }
    for (let i = 0; i < 10; i++) q.shift() // the floods take turns: 5 each
    for (let i = 0; i < 8; i++) q.push('campaign', `c${i}`)
    const next = Array.from({ length: 8 }, () => q.shift())
    assert.deepEqual(next, ['c0', 'c1', 'c2', 'c3', 'c4', 'a5', 'b5', 'c5'])
  })

  it('service long ago counts for little: the counts halve every half-life', () => {
    let now = 0
    const recent = createUsage(1000)
    const note = (key: string) => recent.add(key, 1, now)
    for (let i = 0; i < 100; i++) note('old')
    now = 10_000 // ten half-lives: the 100 are worth about 0.1 of one service now
    note('new')
    assert.ok(recent.score('old') < recent.score('new'))
    now = 10_000_000 // far beyond the rescale point: order and relative weight kept
    note('new')
    note('later')
    note('later')
    assert.ok(recent.score('new') < recent.score('later'))
    assert.equal(recent.score('old'), 0) // forgotten at the rescale
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
    const limit = createFairLimit(2)
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

  it('a freed slot goes to the customer served least lately, each customer in arrival order', async () => {
    const limit = createFairLimit(1)
    const h = harness(limit)
    h.add('whale', 'w0') // runs
    h.add('whale', 'w1')
    h.add('whale', 'w2')
    h.add('a', 'a0')
    h.add('b', 'b0')
    h.add('a', 'a1')
    h.add('c', 'c0')
    await h.finishAll()
    // a, b and c had no service: they go first, in ring order; a's second job after b's and c's first.
    assert.deepEqual(h.order, ['w0', 'a0', 'b0', 'c0', 'w1', 'a1', 'w2'])
  })

  it('a flood alone gets every slot', async () => {
    const limit = createFairLimit(4)
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
