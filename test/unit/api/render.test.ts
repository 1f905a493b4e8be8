import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { renderAccepted } from '../../../src/api/render.ts'
import { BALANCE_TOKEN } from '../../../src/billing/accept-fast.ts'
import type { NewMessage } from '../../../src/domain/message.ts'
import { messageObject, money } from '../../../src/messages/message-object.ts'

/** What the 202 body was before the precompiled serializer: JSON.stringify of the message object. */
function reference(m: NewMessage, balanceAfterMicros: number | null): string {
  return JSON.stringify({
    ...messageObject({ ...m, updatedAt: m.createdAt }),
    balance:
      balanceAfterMicros === null
        ? { amount: BALANCE_TOKEN, currency: m.currency }
        : money(balanceAfterMicros, m.currency),
  })
}

const base: NewMessage = {
  id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  createdAt: new Date('2026-12-07T14:00:00.123Z'),
  customerId: 'c1',
  apiKeyId: 'k1',
  to: '+14155550123',
  from: 'ACME',
  body: 'Hello',
  country: 'US',
  encoding: 'GSM-7',
  segments: 1,
  priceMicros: 7900,
  currency: 'USD',
  priority: 'normal',
  clientReference: null,
  statusCallbackUrl: null,
  metadata: null,
  batchId: null,
  expiresAt: new Date('2026-12-08T00:00:00.123Z'),
  sendAt: null,
  status: 'queued',
}

describe('renderAccepted', () => {
  it('is a 202 whose body parses to the message object plus the balance', () => {
    const r = renderAccepted(base, 12_345_600)
    assert.equal(r.statusCode, 202)
    const o = JSON.parse(r.body)
    assert.deepEqual(Object.keys(o).slice(-2), ['expires_at', 'balance'])
    assert.deepEqual(o.balance, { amount: '12.3456', currency: 'USD' })
    assert.equal(o.updated_at, o.created_at)
    assert.equal(o.is_final, false)
  })

  it('keeps the balance token unescaped where the database replaces it', () => {
    assert.ok(renderAccepted(base, null).body.includes(`"balance":{"amount":"${BALANCE_TOKEN}"`))
  })

  it('writes the same bytes as JSON.stringify of the message object, for any text', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string())
    fc.assert(
      fc.property(
        fc.record({
          body: text,
          from: text,
          clientReference: fc.option(text),
          statusCallbackUrl: fc.option(text),
          metadata: fc.option(fc.dictionary(text, text)),
          batchId: fc.option(text),
          segments: fc.integer({ min: 1, max: 20 }),
          priceMicros: fc.integer({ min: 0, max: 1e12 }),
          sendAt: fc.option(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })),
          status: fc.constantFrom('queued', 'scheduled', 'delivered' as const),
          balance: fc.option(fc.integer({ min: -1e12, max: 1e12 })),
        }),
        (v) => {
          const m = { ...base, ...v, status: v.status as NewMessage['status'] }
          assert.equal(renderAccepted(m, v.balance).body, reference(m, v.balance))
        },
      ),
      { numRuns: 500 },
    )
  })
})
