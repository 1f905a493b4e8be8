import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { newId } from '../../../src/domain/ids.ts'
import { customerEventId, parseEventId, queuedEventId, statusEventId } from '../../../src/events/event-ids.ts'

const MAX_MS = 2 ** 48 - 1

describe('event ids', () => {
  it('a status event id names its row and its millisecond', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
        fc.integer({ min: 0, max: MAX_MS }),
        (row, at) => {
          const id = statusEventId(row.toString(), at)
          assert.match(id, /^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$/)
          assert.deepEqual(parseEventId(id), { kind: 'status', rowId: row.toString(), at })
          assert.deepEqual(parseEventId(customerEventId(row.toString(), at)), {
            kind: 'customer',
            rowId: row.toString(),
            at,
          })
        },
      ),
    )
  })

  it('a queued event id is its message id, re-encoded', () => {
    for (let i = 0; i < 200; i++) {
      const m = newId()
      const ref = parseEventId(queuedEventId(m))
      assert.equal(ref?.kind, 'queued')
      assert.equal(ref?.kind === 'queued' && ref.messageId, m)
    }
  })

  it('ids sort by time like ULIDs', () => {
    assert.ok(statusEventId('99', 1_000) < statusEventId('1', 1_001))
  })

  it('anything else is not an event id', () => {
    for (const s of [
      '',
      'evt_',
      'evt_01JQ',
      `evt_${'Z'.repeat(26)}`,
      'msg_01JQ0000000000000000000000',
      'evt_01jq0000000000000000000000',
    ]) {
      assert.equal(parseEventId(s), undefined, s)
    }
    // Kind byte 0 (neither status, customer nor a UUIDv7) is refused.
    assert.equal(parseEventId('evt_01JQ0000000000000000000000'), undefined)
  })
})
