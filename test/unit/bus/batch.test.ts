import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pLimit from 'p-limit'
import { batchItems, handleBatchItems } from '../../../src/bus/batch.ts'
import type { BusMessage } from '../../../src/bus/bus.ts'

/** A bus message recording how it was settled. */
function message(data: unknown, headers: Record<string, string> = {}) {
  const log: string[] = []
  const m: BusMessage<unknown> = {
    id: 'b1',
    seq: 7,
    subject: 'sms.deliver.normal',
    data,
    deliveryCount: 2,
    ack: async () => void log.push('ack'),
    nak: async (ms = 0) => void log.push(`nak ${ms}`),
    term: async () => void log.push('term'),
    header: (name) => headers[name],
    inProgress: async () => void log.push('progress'),
  }
  return { m, log }
}

const fail = (err: unknown) => assert.fail(String(err))

describe('handleBatchItems', () => {
  it('acks the batch once every item was acked or termed, never before', async () => {
    const { m, log } = message({ items: [1, 2, 3] })
    const seen: number[] = []
    await handleBatchItems<number>(
      m,
      async (item) => {
        seen.push(item.data)
        assert.equal(log.length, 0, 'the batch is not settled while an item runs')
        assert.equal(item.deliveryCount, 2)
        assert.equal(item.subject, 'sms.deliver.normal')
        await (item.data === 2 ? item.term() : item.ack())
      },
      { onError: fail },
    )
    assert.deepEqual(seen, [1, 2, 3])
    assert.deepEqual(log, ['ack'])
  })

  it('naks the whole batch with the longest delay asked when an item is nak’ed or throws', async () => {
    const { m, log } = message({ items: ['a', 'b', 'c'] })
    const errors: unknown[] = []
    await handleBatchItems<string>(
      m,
      async (item) => {
        if (item.data === 'a') return item.nak(300)
        if (item.data === 'b') throw new Error('boom')
        await item.ack()
      },
      { errorDelayMs: 1000, onError: (e) => errors.push(e) },
    )
    assert.deepEqual(log, ['nak 1000'])
    assert.equal(errors.length, 1)
  })

  it('naks, and reports, an item whose handler returned without settling it', async () => {
    const { m, log } = message({ items: ['a'] })
    const errors: unknown[] = []
    await handleBatchItems<string>(m, async () => {}, { errorDelayMs: 50, onError: (e) => errors.push(e) })
    assert.deepEqual(log, ['nak 50'])
    assert.equal(errors.length, 1)
  })

  it('gives each item its own headers when the batch carries them, else the message’s', async () => {
    const withOwn = message(
      { items: ['x', 'y'], headers: [{ traceparent: 'tp-x' }, null] },
      { traceparent: 'tp-batch' },
    )
    const got: (string | undefined)[] = []
    await handleBatchItems<string>(
      withOwn.m,
      async (item) => {
        got.push(item.header('traceparent'))
        await item.ack()
      },
      { onError: fail },
    )
    assert.deepEqual(got, ['tp-x', 'tp-batch'])
  })

  it('reads a payload that is not a batch as one item', async () => {
    assert.deepEqual(batchItems({ id: 'j1' }), [{ id: 'j1' }])
    assert.deepEqual(batchItems({ items: [1, 2] }), [1, 2])
    const { m, log } = message({ id: 'j1' })
    const seen: unknown[] = []
    await handleBatchItems(
      m,
      async (item) => {
        seen.push(item.data)
        await item.ack()
      },
      { onError: fail },
    )
    assert.deepEqual(seen, [{ id: 'j1' }])
    assert.deepEqual(log, ['ack'])
  })

  it('runs items under the shared limit and passes inProgress to the batch', async () => {
    const limit = pLimit(2)
    let running = 0
    let most = 0
    const a = message({ items: [1, 2, 3, 4] })
    const b = message({ items: [5, 6, 7] })
    const handler = async (item: BusMessage<number>) => {
      running++
      most = Math.max(most, running)
      await item.inProgress()
      await new Promise((r) => setTimeout(r, 5))
      running--
      await item.ack()
    }
    await Promise.all([
      handleBatchItems(a.m, handler, { limit, onError: fail }),
      handleBatchItems(b.m, handler, { limit, onError: fail }),
    ])
    assert.equal(most, 2, 'at most two items at once across both batches')
    assert.equal(a.log.filter((l) => l === 'progress').length, 4)
    assert.equal(a.log.at(-1), 'ack')
    assert.equal(b.log.at(-1), 'ack')
  })
})
