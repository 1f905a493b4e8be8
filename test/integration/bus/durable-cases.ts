/** Contract: shared durables, fan-out, start position, pending, and stopping consumers. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { BusMessage } from '../../../src/bus/bus.ts'
import { BULK, type Job, OTP, type Seen, seen, type WithBus } from './fixtures.ts'
import { eventually, gate, Inbox } from './wait.ts'

export function durableCases(withBus: WithBus): void {
  it(
    'consumers of one durable share its messages: each to exactly one, both get some',
    withBus(async ({ bus }) => {
      const got = { a: new Inbox<Seen>(), b: new Inbox<Seen>() }
      const consumer = (self: 'a' | 'b', other: 'a' | 'b') =>
        bus.consume<Job>({
          durable: 'workers',
          subject: BULK,
          concurrency: 1,
          handler: async (m) => {
            got[self].push(seen(m))
            // Whoever gets the first message holds it until the other has one: proves sharing
            // without relying on timing.
            if (got[self].items.length === 1 && got[other].items.length === 0) {
              await got[other].until((i) => i.length > 0, `consumer ${other} to get a message`)
            }
            await m.ack()
          },
        })
      await consumer('a', 'b')
      await consumer('b', 'a')
      const N = 20
      for (let n = 0; n < N; n++) await bus.publish(BULK, { n }, { msgId: `w${n}` })
      await eventually(() => got.a.items.length + got.b.items.length >= N, 'all messages handled')
      const ids = [...got.a.items, ...got.b.items].map((s) => s.id)
      assert.equal(new Set(ids).size, N)
      assert.equal(ids.length, N, 'no message went to both')
      assert.ok(got.a.items.length > 0 && got.b.items.length > 0)
      await eventually(async () => (await bus.pending('workers')) === 0, 'pending 0')
    }),
  )

  it(
    'separate durables on one subject each get every message (status fan-out)',
    withBus(async ({ bus }) => {
      const writer = new Inbox<Seen>()
      const webhooks = new Inbox<Seen>()
      for (const [durable, inbox] of [
        ['status-writer', writer],
        ['webhooks', webhooks],
      ] as const) {
        await bus.consume<Job>({
          durable,
          subject: 'sms.status.>',
          handler: async (m) => {
            inbox.push(seen(m))
            await m.ack()
          },
        })
      }
      for (let n = 0; n < 10; n++) await bus.publish(`sms.status.c${n % 3}.delivered`, { n })
      const all = (i: Seen[]) => i.length >= 10
      await Promise.all([writer.until(all, 'writer'), webhooks.until(all, 'webhooks')])
      const ns = (i: Inbox<Seen>) => i.items.map((s) => s.data.n).sort((x, y) => x - y)
      assert.deepEqual(ns(writer), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      assert.deepEqual(ns(webhooks), ns(writer))
    }),
  )

  it(
    "a durable created with startAt 'new' skips what was stored before it; 'all' replays it",
    withBus(async ({ bus }) => {
      await bus.publish('sms.status.c1.sent', { n: 1 })
      const late = new Inbox<Seen>()
      const replay = new Inbox<Seen>()
      for (const [durable, inbox, startAt] of [
        ['live-stream', late, 'new'],
        ['rollups', replay, 'all'],
      ] as const) {
        await bus.consume<Job>({
          durable,
          subject: 'sms.status.>',
          startAt,
          handler: async (m) => {
            inbox.push(seen(m))
            await m.ack()
          },
        })
      }
      await bus.publish('sms.status.c1.delivered', { n: 2 })
      await late.until((i) => i.length >= 1, 'the new event')
      await replay.until((i) => i.length >= 2, 'both events')
      assert.deepEqual(
        late.items.map((s) => s.data.n),
        [2],
      )
      assert.deepEqual(
        replay.items.map((s) => s.data.n),
        [1, 2],
      )
    }),
  )

  it(
    'pending counts undelivered plus unsettled messages, and a durable outlives its consumers',
    withBus(async ({ bus }) => {
      assert.equal(await bus.pending('nobody'), 0)
      const held = new Inbox<BusMessage<Job>>()
      const first = await bus.consume<Job>({
        durable: 'bulk',
        subject: BULK,
        concurrency: 10,
        ackWaitMs: 10_000,
        handler: async (m) => held.push(m), // returns without settling: the message stays out
      })
      for (let n = 0; n < 5; n++) await bus.publish(BULK, { n })
      await held.until((i) => i.length >= 5, 'five deliveries')
      await eventually(async () => (await bus.pending('bulk')) === 5, 'pending 5')
      for (const m of held.items.slice(0, 2)) await m.ack()
      await eventually(async () => (await bus.pending('bulk')) === 3, 'pending 3 after two acks')

      await first.stop()
      await bus.publish(BULK, { n: 5 })
      await bus.publish(BULK, { n: 6 })
      await eventually(async () => (await bus.pending('bulk')) === 5, 'pending 5 with no consumer')
      for (const m of held.items.slice(2)) await m.ack() // acks still count after stop()
      await eventually(async () => (await bus.pending('bulk')) === 2, 'pending 2')

      const next = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'bulk',
        subject: BULK,
        handler: async (m) => {
          next.push(seen(m))
          await m.ack()
        },
      })
      await next.until((i) => i.length >= 2, 'the two published while stopped')
      assert.deepEqual(next.items.map((s) => s.data.n).sort(), [5, 6])
      await eventually(async () => (await bus.pending('bulk')) === 0, 'pending 0')
    }),
  )

  it(
    'stop() waits for running handlers and stops taking messages',
    withBus(async ({ bus }) => {
      const log: string[] = []
      const started = new Inbox<Seen>()
      const release = gate()
      const c = await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        concurrency: 1,
        handler: async (m) => {
          started.push(seen(m))
          await release.opened
          log.push('handler finished')
          await m.ack()
        },
      })
      await bus.publish(OTP, { n: 1 })
      await started.until((i) => i.length === 1, 'handler start')
      const stopped = c.stop().then(() => log.push('stopped'))
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
      assert.deepEqual(log, [], 'stop() resolved while a handler was running')
      release.open()
      await stopped
      assert.deepEqual(log, ['handler finished', 'stopped'])

      await bus.publish(OTP, { n: 2 })
      const later = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        handler: async (m) => {
          later.push(seen(m))
          await m.ack()
        },
      })
      await later.until((i) => i.some((s) => s.data.n === 2), 'the next consumer to get it')
      assert.equal(started.items.length, 1, 'the stopped consumer took nothing more')
      await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0')
    }),
  )
}
