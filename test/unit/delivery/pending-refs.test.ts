import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createPendingRefs } from '../../../src/delivery/pending-refs.ts'

const tick = () => new Promise((r) => setImmediate(r))

describe('pending carrier refs', () => {
  it('a receipt for an id being recorded waits for the commit, then the id is forgotten', async () => {
    const refs = createPendingRefs()
    let commit!: () => void
    refs.track('smsc', ['41', '42'], new Promise<void>((r) => (commit = r)))
    const waiting = refs.settled('smsc', '42')
    assert.ok(waiting, 'an id being recorded is pending')
    assert.equal(refs.settled('other', '42'), undefined, 'per carrier')
    assert.equal(refs.settled('smsc', '43'), undefined)
    let done = false
    void waiting.then(() => (done = true))
    await tick()
    assert.equal(done, false, 'still waiting before the commit')
    commit()
    await waiting
    await tick()
    assert.equal(refs.settled('smsc', '41'), undefined, 'forgotten once recorded')
  })

  it('a failed commit releases the waiting receipt (it then parks)', async () => {
    const refs = createPendingRefs()
    let fail!: (e: Error) => void
    refs.track('smsc', ['7'], new Promise<void>((_, reject) => (fail = reject)))
    const waiting = refs.settled('smsc', '7')
    fail(new Error('db down'))
    await assert.doesNotReject(waiting!)
    await tick()
    assert.equal(refs.settled('smsc', '7'), undefined)
  })

  it('a newer submit with the same id is not forgotten when the older one settles', async () => {
    const refs = createPendingRefs()
    let first!: () => void
    refs.track('smsc', ['9'], new Promise<void>((r) => (first = r)))
    refs.track('smsc', ['9'], new Promise<void>(() => {}))
    first()
    await tick()
    assert.ok(refs.settled('smsc', '9'))
  })
})
