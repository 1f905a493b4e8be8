// Pure: error classification, HTTP carrier payloads, backoff and the window.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { acceptsWebhooks } from '../../../src/carriers/carrier.ts'
import {
  CarrierPayloadError,
  errorForSmppStatus,
  isPermanentCarrierError,
  isThrottledError,
  isTransientCarrierError,
  PermanentCarrierError,
  SmppStatus,
  ThrottledError,
  TransientCarrierError,
} from '../../../src/carriers/errors.ts'
import { createHttpCarrier, retryAfterMs } from '../../../src/carriers/http/http-carrier.ts'
import {
  parseHttpInbound,
  parseHttpReceipt,
  parseSubmitResponse,
} from '../../../src/carriers/http/payloads.ts'
import { createWindow } from '../../../src/carriers/smpp/window.ts'
import { backoffDelay } from '../../../src/domain/backoff.ts'

describe('errorForSmppStatus', () => {
  const cases: Array<
    [number, typeof ThrottledError | typeof TransientCarrierError | typeof PermanentCarrierError, string]
  > = [
    [SmppStatus.ESME_RTHROTTLED, ThrottledError, 'throttled'],
    [SmppStatus.ESME_RMSGQFUL, ThrottledError, 'throttled'],
    [SmppStatus.ESME_RSYSERR, TransientCarrierError, 'carrier_error'],
    [SmppStatus.ESME_RINVBNDSTS, TransientCarrierError, 'carrier_error'],
    [SmppStatus.ESME_RX_T_APPN, TransientCarrierError, 'carrier_error'],
    [0x0400, TransientCarrierError, 'carrier_error'],
    [SmppStatus.ESME_RINVDSTADR, PermanentCarrierError, 'invalid_destination'],
    [SmppStatus.ESME_RINVSRCADR, PermanentCarrierError, 'invalid_source'],
    [SmppStatus.ESME_RINVMSGLEN, PermanentCarrierError, 'invalid_message'],
    [SmppStatus.ESME_RINVDSTTON, PermanentCarrierError, 'invalid_destination'],
    [SmppStatus.ESME_RX_R_APPN, PermanentCarrierError, 'rejected'],
  ]
  for (const [status, cls, code] of cases) {
    it(`0x${status.toString(16)} → ${cls.name} ${code}`, () => {
      const err = errorForSmppStatus(status, 'submit_sm', 'a')
      assert.ok(err instanceof cls)
      assert.equal(err.code, code)
      assert.equal(err.carrierStatus, status)
      assert.equal(err.carrier, 'a')
    })
  }

  it('predicates tell the classes apart', () => {
    const t = errorForSmppStatus(SmppStatus.ESME_RTHROTTLED, 'submit_sm')
    assert.ok(isThrottledError(t) && !isTransientCarrierError(t) && !isPermanentCarrierError(t))
    assert.match(t.message, /ESME_RTHROTTLED/)
    const cause = new Error('socket')
    const e = new TransientCarrierError('x', { code: 'timeout', cause })
    assert.equal(e.cause, cause)
    assert.equal(e.kind, 'transient')
  })
})

describe('HTTP carrier payloads', () => {
  it('reads carrier_ids or carrier_id from a submit response', () => {
    assert.deepEqual(parseSubmitResponse({ carrier_ids: ['a', 'b'] }), ['a', 'b'])
    assert.deepEqual(parseSubmitResponse({ carrier_id: 'x1' }), ['x1'])
    assert.deepEqual(parseSubmitResponse({ carrier_id: 42 }), ['42'])
    assert.equal(parseSubmitResponse({ carrier_ids: [] }), undefined)
    assert.equal(parseSubmitResponse({ carrier_ids: ['a', ''] }), undefined)
    assert.equal(parseSubmitResponse({ ok: true }), undefined)
    assert.equal(parseSubmitResponse(null), undefined)
  })

  it('parses receipts: our statuses, aliases, SMPP stat words, times', () => {
    const r = parseHttpReceipt({
      carrier_id: 'c1',
      status: 'delivered',
      error_code: null,
      done_at: '2025-06-01T12:00:00Z',
    })
    assert.equal(r.carrierId, 'c1')
    assert.equal(r.status, 'delivered')
    assert.equal(r.errorCode, undefined)
    assert.deepEqual(r.doneAt, new Date('2025-06-01T12:00:00Z'))
    assert.equal(
      parseHttpReceipt({ carrier_id: 'c', status: 'FAILED', error_code: 30 }).status,
      'undelivered',
    )
    assert.equal(parseHttpReceipt({ carrier_id: 'c', status: 'failed', error_code: 30 }).errorCode, '30')
    assert.equal(parseHttpReceipt({ carrier_id: 'c', status: 'DELIVRD' }).status, 'delivered')
    assert.equal(parseHttpReceipt({ carrier_id: 'c', status: 'unknown' }).status, 'unknown')
    assert.deepEqual(
      parseHttpReceipt({ carrier_id: 'c', status: 'expired', done_at: 1_748_779_390 }).doneAt,
      new Date(1_748_779_390_000),
    )
  })

  it('rejects bad receipts naming the field', () => {
    const bad: Array<[unknown, string]> = [
      [[], '(body)'],
      [{ status: 'delivered' }, 'carrier_id'],
      [{ carrier_id: 'c' }, 'status'],
      [{ carrier_id: 'c', status: 'teleported' }, 'status'],
      [{ carrier_id: 'c', status: 'delivered', done_at: 'yesterday' }, 'done_at'],
      [{ carrier_id: 'c', status: 'delivered', error_code: { x: 1 } }, 'error_code'],
    ]
    for (const [json, param] of bad) {
      assert.throws(
        () => parseHttpReceipt(json),
        (e: unknown) => e instanceof CarrierPayloadError && e.param === param,
        JSON.stringify(json),
      )
    }
  })

  it('parses inbound messages', () => {
    const now = new Date('2025-01-01T00:00:00Z')
    assert.deepEqual(parseHttpInbound({ from: '+14155550123', to: '12345', body: 'STOP' }, now), {
      from: '+14155550123',
      to: '12345',
      body: 'STOP',
      receivedAt: now,
    })
    assert.throws(() => parseHttpInbound({ to: '1', body: '' }), CarrierPayloadError)
    // Carriers that leave out the `+` are normalized to E.164.
    assert.equal(
      parseHttpInbound({ from: '447700900123', to: '+14155550100', body: '' }, now).from,
      '+447700900123',
    )
  })

  it('refuses inbound messages whose numbers are not numbers, or whose body is too long', () => {
    const ok = { from: '+14155550123', to: '12345', body: 'STOP' }
    const bad: [Record<string, unknown>, string][] = [
      [{ ...ok, from: 'ACME' }, 'from'],
      [{ ...ok, from: '12345' }, 'from'],
      [{ ...ok, from: '+1 415 555 0123; DROP' }, 'from'],
      [{ ...ok, from: `+${'9'.repeat(40)}` }, 'from'],
      [{ ...ok, to: 'ACME' }, 'to'],
      [{ ...ok, to: '12' }, 'to'],
      [{ ...ok, body: 'x'.repeat(1601) }, 'body'],
    ]
    for (const [json, param] of bad) {
      assert.throws(
        () => parseHttpInbound(json),
        (e: unknown) => e instanceof CarrierPayloadError && e.param === param,
        JSON.stringify(json),
      )
    }
  })

  it('reads Retry-After as seconds or a date', () => {
    assert.equal(retryAfterMs('2'), 2000)
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000)
    assert.equal(retryAfterMs(null), undefined)
    assert.equal(retryAfterMs('soon'), undefined)
  })

  it('the HTTP carrier accepts webhooks; parsing failures do not reach listeners', async () => {
    const c = createHttpCarrier({ name: 'h', url: 'http://127.0.0.1:9/' })
    try {
      assert.ok(acceptsWebhooks(c))
      const seen: string[] = []
      c.onReceipt((r) => seen.push(r.carrierId))
      await assert.rejects(c.handleReceipt({ carrier_id: 'x' }), CarrierPayloadError)
      await c.handleReceipt({ carrier_id: 'x', status: 'delivered' })
      assert.deepEqual(seen, ['x'])
    } finally {
      await c.close()
    }
  })
})

describe('backoffDelay', () => {
  it('doubles from initialMs up to maxMs', () => {
    const o = { initialMs: 100, maxMs: 1000, jitter: false }
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o)),
      [100, 200, 400, 800, 1000, 1000],
    )
  })

  it('jitter stays within half..full of the delay', () => {
    const o = { initialMs: 100, maxMs: 1000 }
    assert.equal(
      backoffDelay(3, o, () => 0),
      200,
    )
    assert.equal(
      backoffDelay(3, o, () => 0.999999),
      400,
    )
  })
})

describe('createWindow', () => {
  it('admits up to size, queues the rest FIFO, and rejects waiters on demand', async () => {
    const w = createWindow(2)
    await w.acquire()
    await w.acquire()
    const order: number[] = []
    const third = w.acquire().then(() => order.push(3))
    const fourth = w.acquire().then(() => order.push(4))
    assert.equal(w.inUse, 2)
    assert.equal(w.waiting, 2)
    w.release()
    await third
    assert.deepEqual(order, [3])
    const boom = new Error('unbound')
    w.rejectWaiters(boom)
    await assert.rejects(fourth, boom)
    assert.equal(w.inUse, 2)
    w.release()
    w.release()
    assert.equal(w.inUse, 0)
    assert.throws(() => createWindow(0), RangeError)
  })
})
