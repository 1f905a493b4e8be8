// What a lost SMPP request means depends on whether it was written: the request tracker against a
// fake session whose socket we drive by hand.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  isTransientCarrierError,
  isUnconfirmedSubmitError,
  TransientCarrierError,
} from '../../../src/carriers/errors.ts'
import { createRequests } from '../../../src/carriers/smpp/requests.ts'
import { loadSmpp, type Pdu, type Session } from '../../../src/carriers/smpp/smpp-types.ts'
import { createStallClock, type StallClock } from '../../../src/carriers/smpp/stall-clock.ts'

const smpp = loadSmpp()

/** A session whose writes complete (or fail) only when the test says so. */
function fakeSession() {
  const writes: Array<{ pdu: Pdu; done: (err?: Error) => void }> = []
  const socket = {
    writable: true,
    destroyed: false,
    write(buf: Buffer, cb: (err?: Error | null) => void) {
      writes.push({ pdu: new smpp.PDU(buf as unknown as string), done: (err) => cb(err ?? null) })
      return true
    },
    // Corking only holds writes within a tick on a real socket; here writes complete by hand.
    cork() {},
    uncork() {},
    destroy() {
      socket.destroyed = true
      for (const w of writes) w.done(new Error('destroyed'))
    },
  }
  return { session: { socket } as unknown as Session, writes }
}

const frozen = (): StallClock => ({ now: () => performance.now(), close() {} })
const submit = { destination_addr: '14155550123', short_message: Buffer.from('hi') }

describe('SMPP requests', () => {
  it('a request whose write failed is unsent: safe to send again', async () => {
    const r = createRequests({ smpp, timeoutMs: 1000, carrier: 'c', clock: frozen() })
    const { session, writes } = fakeSession()
    const p = r.send(session, 'submit_sm', submit, { unconfirmedWhenLost: true }).catch((e: unknown) => e)
    writes[0]?.done(new Error('EPIPE'))
    const err = await p
    assert.ok(isTransientCarrierError(err))
    assert.equal(err.unsent, true)
  })

  it('a written submit_sm lost with its link is unconfirmed; other commands stay transient', async () => {
    const r = createRequests({ smpp, timeoutMs: 1000, carrier: 'c', clock: frozen() })
    const { session, writes } = fakeSession()
    const sub = r.send(session, 'submit_sm', submit, { unconfirmedWhenLost: true }).catch((e: unknown) => e)
    const enq = r.send(session, 'enquire_link', {}).catch((e: unknown) => e)
    for (const w of writes) w.done()
    r.failSession(session, new TransientCarrierError('lost', { code: 'connection_lost' }))
    const [a, b] = await Promise.all([sub, enq])
    assert.ok(isUnconfirmedSubmitError(a))
    assert.equal(a.code, 'connection_lost')
    assert.ok(isTransientCarrierError(b))
  })

  it('a link lost while the write is pending: the write callback decides', async () => {
    const r = createRequests({ smpp, timeoutMs: 1000, carrier: 'c', clock: frozen() })
    const { session, writes } = fakeSession()
    const ok = r.send(session, 'submit_sm', submit, { unconfirmedWhenLost: true }).catch((e: unknown) => e)
    const failed = r
      .send(session, 'submit_sm', submit, { unconfirmedWhenLost: true })
      .catch((e: unknown) => e)
    r.failSession(session, new TransientCarrierError('lost', { code: 'connection_lost' }))
    writes[0]?.done()
    writes[1]?.done(new Error('ECANCELED'))
    const [a, b] = await Promise.all([ok, failed])
    assert.ok(isUnconfirmedSubmitError(a), 'written before the link went: the carrier may have it')
    assert.ok(isTransientCarrierError(b) && b.unsent, 'never written: safe')
  })

  it('the response timeout runs from the write, and a response settles the request', async () => {
    let t = 0
    const clock: StallClock = { now: () => t, close() {} }
    const r = createRequests({ smpp, timeoutMs: 50, carrier: 'c', clock })
    const { session, writes } = fakeSession()
    const p = r.send(session, 'submit_sm', submit, { unconfirmedWhenLost: true })
    // Held in our own buffer for 40 ms: not the carrier's delay.
    t = 40
    const w = writes[0]
    assert.ok(w)
    w.done()
    // 80 ms after the request, 40 after the write; real timers get every chance to fire first.
    t = 80
    await new Promise((resolve) => setTimeout(resolve, 120))
    assert.equal(r.onResponse(session, w.pdu.response({ message_id: 'abc' })), 'answered')
    assert.equal((await p).message_id, 'abc')
  })

  it('a written submit_sm with no answer times out unconfirmed', async () => {
    const r = createRequests({ smpp, timeoutMs: 20, carrier: 'c', clock: frozen() })
    const { session, writes } = fakeSession()
    const p = r.send(session, 'submit_sm', submit, { unconfirmedWhenLost: true }).catch((e: unknown) => e)
    writes[0]?.done()
    const err = await p
    assert.ok(isUnconfirmedSubmitError(err))
    assert.equal(err.code, 'timeout')
    const late = writes[0]?.pdu.response({ message_id: 'abc' })
    assert.ok(late)
    assert.equal(r.onResponse(session, late), 'late', 'the answer that came after the timeout is recognised')
    assert.equal(r.onResponse(session, late), 'unmatched')
  })

  it('a write that does not complete within the timeout drops the link, and the request is unsent', async () => {
    const r = createRequests({ smpp, timeoutMs: 20, carrier: 'c', clock: frozen() })
    const { session } = fakeSession()
    const err = await r
      .send(session, 'submit_sm', submit, { unconfirmedWhenLost: true })
      .catch((e: unknown) => e)
    assert.ok(isTransientCarrierError(err) && err.unsent)
    assert.equal(session.socket.destroyed, true)
  })
})

describe('stall clock', () => {
  it('does not count time the event loop spent blocked', () => {
    const clock = createStallClock(10)
    const before = clock.now()
    const end = performance.now() + 300
    while (performance.now() < end) {
      // blocked: no timer can run
    }
    const advanced = clock.now() - before
    clock.close()
    assert.ok(advanced < 50, `advanced ${advanced} ms across a 300 ms stall`)
  })
})
