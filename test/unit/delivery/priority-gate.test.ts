import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createPriorityGate } from '../../../src/delivery/priority-gate.ts'

type Granted = Promise<() => void>

describe('priority gate', () => {
  it('admits up to its capacity, then serves waiters otp first, then by arrival', async () => {
    const gate = createPriorityGate(2)
    const a = await gate.acquire('bulk')
    const b = await gate.acquire('bulk')
    assert.equal(gate.inUse, 2)
    const order: string[] = []
    const wait = (p: 'otp' | 'high' | 'normal' | 'bulk', tag: string) =>
      gate.acquire(p).then((release) => {
        order.push(tag)
        return release
      })
    const waiters = [
      wait('bulk', 'bulk1'),
      wait('normal', 'normal1'),
      wait('bulk', 'bulk2'),
      wait('otp', 'otp1'),
    ]
    assert.equal(gate.waiting, 4)
    a()
    a() // releasing twice frees one slot only
    b()
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(order, ['otp1', 'normal1'])
    const [bulk1, normal1, bulk2, otp1] = waiters as [Granted, Granted, Granted, Granted]
    ;(await otp1)()
    ;(await normal1)()
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(order, ['otp1', 'normal1', 'bulk1', 'bulk2'])
    ;(await bulk1)()
    ;(await bulk2)()
    assert.equal(gate.inUse, 0)
    assert.equal(gate.waiting, 0)
  })
})

describe('priority gate across customers', () => {
  it('within a priority, the waiting customer served least lately goes first', async () => {
    const gate = createPriorityGate(1)
    const held = await gate.acquire('bulk', 'whale')
    const order: string[] = []
    const wait = (customer: string, tag: string) =>
      gate.acquire('bulk', customer).then((release) => {
        order.push(tag)
        release()
      })
    const waiters = [
      wait('whale', 'w1'),
      wait('whale', 'w2'),
      wait('whale', 'w3'),
      wait('small', 's1'),
      wait('whale', 'w4'),
    ]
    held()
    await Promise.all(waiters)
    // FIFO would be w1 w2 w3 s1 w4; round robin w1 s1 w2 w3 w4. The whale holds the slot it was
    // given at once, so the small customer, never served, goes first.
    assert.deepEqual(order, ['s1', 'w1', 'w2', 'w3', 'w4'])
    assert.equal(gate.inUse, 0)
  })
})
