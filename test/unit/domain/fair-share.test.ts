import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { type Backlogged, createUsage, fairShare, interleave } from '../../../src/domain/fair-share.ts'

describe('fairShare', () => {
  it('a flooding customer gets no more than an equal share when others wait', () => {
    const { take } = fairShare(
      [
        { id: 'whale', backlog: 50_000, cap: 10_000 },
        { id: 'a', backlog: 1, cap: 10 },
        { id: 'b', backlog: 1, cap: 10 },
      ],
      10,
    )
    assert.deepEqual(Object.fromEntries(take), { a: 1, b: 1, whale: 8 })
  })

  it('fills the customers given least lately first: a small campaign beside whales gets the credits', () => {
    const whales = ['w1', 'w2', 'w3', 'w4', 'w5'].map((id) => ({
      id,
      backlog: 50_000,
      cap: 10_000,
      used: 3000,
    }))
    const { take } = fairShare([...whales, { id: 'campaign', backlog: 500, cap: 10_000, used: 0 }], 400)
    assert.deepEqual(Object.fromEntries(take), { campaign: 400 })
    // Once it has caught up with them, they share again.
    const caught = fairShare([...whales, { id: 'campaign', backlog: 500, cap: 10_000, used: 2990 }], 60)
    assert.deepEqual(Object.fromEntries(caught.take), { campaign: 19, w1: 9, w2: 8, w3: 8, w4: 8, w5: 8 })
  })

  it('rotates the start so scarce credits reach every customer in turn', () => {
    const cs = ['a', 'b', 'c', 'd'].map((id) => ({ id, backlog: 5, cap: 5 }))
    let next: string | undefined
    const served: string[] = []
    for (let i = 0; i < 4; i++) {
      const r = fairShare(cs, 1, next)
      served.push(...r.take.keys())
      next = r.next
    }
    assert.deepEqual(served, ['a', 'b', 'c', 'd'])
  })
})

describe('fairShare with history', () => {
  // With every `used` 0 (often drawn) this is the plain max-min split.
  it('properties: within limits, all credits it can, max-min fair on used + taken', () => {
    const customer = fc.record({
      id: fc.string({ minLength: 1, maxLength: 4 }),
      backlog: fc.integer({ min: 0, max: 50 }),
      cap: fc.integer({ min: 0, max: 50 }),
      used: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
    })
    fc.assert(
      fc.property(
        fc.uniqueArray(customer, { selector: (c) => c.id, maxLength: 20 }),
        fc.integer({ min: 0, max: 300 }),
        fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
        (cs: Required<Backlogged>[], credits, start) => {
          const { take } = fairShare(cs, credits, start)
          let total = 0
          for (const c of cs) {
            const n = take.get(c.id) ?? 0
            assert.ok(n <= Math.min(c.backlog, c.cap))
            total += n
          }
          const possible = cs.reduce((s, c) => s + Math.min(c.backlog, c.cap), 0)
          assert.equal(total, Math.min(credits, possible))
          // A customer left below its limit ends at least as high (used + taken) as any customer
          // that was given something, less one: nobody is filled past a customer it could wait for.
          const levels = cs.filter((c) => take.has(c.id)).map((c) => c.used + (take.get(c.id) ?? 0))
          const top = Math.max(0, ...levels)
          for (const c of cs) {
            const n = take.get(c.id) ?? 0
            if (n < Math.min(c.backlog, c.cap))
              assert.ok(c.used + n >= top - 1, `${c.id} at ${c.used + n}, top ${top}`)
          }
        },
      ),
    )
  })
})

describe('createUsage', () => {
  it('halves a count every half-life and adds to what is left', () => {
    const u = createUsage(1000)
    u.add('a', 100, 0)
    assert.equal(u.get('a', 1000), 50)
    u.add('a', 10, 2000)
    assert.equal(u.get('a', 2000), 35)
    assert.equal(u.get('b', 2000), 0)
  })

  it('forgets keys under one message once the map grows past its bound', () => {
    const u = createUsage(1000, { pruneAbove: 3 })
    for (const k of ['a', 'b', 'c']) u.add(k, 1, 0)
    u.add('d', 1, 10_000) // a, b, c have decayed to ~0.001
    assert.equal(u.size, 1)
  })
})

describe('interleave', () => {
  it('takes one from each list per round', () => {
    assert.deepEqual(interleave([['a1', 'a2', 'a3'], ['b1'], ['c1', 'c2']]), [
      'a1',
      'b1',
      'c1',
      'a2',
      'c2',
      'a3',
    ])
  })
})
