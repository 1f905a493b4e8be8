import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { jobOfMessage } from '../../../src/dispatch/delivery-job.ts'
import { createHandoff } from '../../../src/dispatch/handoff.ts'
import type { NewMessage } from '../../../src/domain/message.ts'
import { acceptRequest } from '../../helpers/messages.ts'

const customer = '01939f5e-0000-7000-8000-000000000001'
const message = (over: Partial<NewMessage> = {}): NewMessage => ({
  ...acceptRequest(customer).message,
  ...over,
})

describe('handoff', () => {
  it('keeps the jobs of accepted messages until released', () => {
    const h = createHandoff(10)
    const ms = [message(), message({ statusCallbackUrl: 'https://acme.example/cb' })]
    h.put(ms)
    assert.deepEqual(h.get(ms[1]?.id as string), jobOfMessage(ms[1] as NewMessage))
    assert.equal(h.get(ms[1]?.id as string)?.status_callback, true)
    assert.equal(h.get(ms[0]?.id as string)?.status_callback, false)
    h.remove([ms[0]?.id as string])
    assert.equal(h.get(ms[0]?.id as string), undefined)
    assert.equal(h.size, 1)
  })

  it('drops the oldest past its capacity', () => {
    const h = createHandoff(3)
    const ms = Array.from({ length: 5 }, () => message())
    h.put(ms.slice(0, 2))
    h.put(ms.slice(2))
    assert.equal(h.size, 3)
    assert.deepEqual(
      ms.map((m) => h.get(m.id) !== undefined),
      [false, false, true, true, true],
    )
  })

  it('does not keep scheduled messages (they wait in the outbox for hours)', () => {
    const h = createHandoff(10)
    const later = message({ sendAt: new Date(Date.now() + 3_600_000), status: 'scheduled' })
    h.put([later])
    assert.equal(h.size, 0)
  })

  it('a message whose job cannot be built is left to the messages read, not thrown at the accept', () => {
    const h = createHandoff(10)
    const bad = message({ priceMicros: 2 ** 60 })
    const good = message()
    h.put([bad, good])
    assert.equal(h.get(bad.id), undefined)
    assert.ok(h.get(good.id))
  })

  it('capacity 0 keeps nothing', () => {
    const h = createHandoff(0)
    h.put([message()])
    assert.equal(h.size, 0)
  })
})
