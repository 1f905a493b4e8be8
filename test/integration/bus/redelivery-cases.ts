/** Contract: nak, nak delay, ack wait, inProgress, term, maxDeliver and throwing handlers. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { BusHandlerError } from '../../../src/bus/errors.ts'
import { ACK_WAIT, type Job, OTP, type Seen, SLACK, seen, type WithBus } from './fixtures.ts'
import { eventually, holdsFor, Inbox, work } from './wait.ts'

export function redeliveryCases(withBus: WithBus): void {
  it(
    'nak redelivers the same message with deliveryCount 2',
    withBus(async ({ bus }) => {
      const inbox = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: 10_000,
        handler: async (m) => {
          inbox.push(seen(m))
          await (m.deliveryCount === 1 ? m.nak() : m.ack())
        },
      })
      await bus.publish(OTP, { n: 7 }, { msgId: 'm3:1' })
      const [a, b] = await inbox.until((i) => i.length >= 2, 'the redelivery')
      assert.deepEqual([a?.deliveryCount, b?.deliveryCount], [1, 2])
      assert.deepEqual([b?.id, b?.seq, b?.data], [a?.id, a?.seq, a?.data])
      await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0')
    }),
  )

  it(
    'nak with a delay holds the message back that long without blocking later ones',
    withBus(async ({ bus }) => {
      const DELAY = 700 // longer than the ack wait: the delay, not the ack wait, decides
      const inbox = new Inbox<Seen>()
      let nakAt = 0
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        concurrency: 1,
        handler: async (m) => {
          inbox.push(seen(m))
          if (m.data.n === 1 && m.deliveryCount === 1) {
            nakAt = Date.now()
            await m.nak(DELAY)
          } else {
            await m.ack()
          }
        },
      })
      await bus.publish(OTP, { n: 1 })
      await inbox.until((i) => i.length >= 1, 'first delivery')
      await bus.publish(OTP, { n: 2 })
      await inbox.until((i) => i.filter((s) => s.data.n === 1).length >= 2, 'the delayed redelivery', 5_000)
      const again = inbox.items.find((s) => s.data.n === 1 && s.deliveryCount === 2)
      assert.ok(again, 'redelivered with deliveryCount 2')
      assert.ok(again.at - nakAt >= DELAY - SLACK, `redelivered after ${again.at - nakAt} ms < ${DELAY}`)
      assert.deepEqual(
        inbox.items.map((s) => s.data.n),
        [1, 2, 1],
        'the later message went first',
      )
    }),
  )

  it(
    'redelivers an unsettled message after the ack wait',
    withBus(async ({ bus }) => {
      const inbox = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        handler: async (m) => {
          inbox.push(seen(m))
          if (m.deliveryCount > 1) await m.ack()
        },
      })
      await bus.publish(OTP, { n: 1 })
      const [a, b] = await inbox.until((i) => i.length >= 2, 'the redelivery')
      assert.equal(b?.deliveryCount, 2)
      // The ack wait runs from delivery, which the handler sees a little later (a client-side
      // buffer, a busy event loop): the observed gap can be slightly short, never near zero.
      const gap = (b?.at ?? 0) - (a?.at ?? 0)
      assert.ok(gap >= ACK_WAIT / 2, `redelivered after ${gap} ms, well before the ${ACK_WAIT} ms ack wait`)
      await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0')
    }),
  )

  it(
    'inProgress extends the ack wait of a long handler',
    withBus(async ({ bus }) => {
      const inbox = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        handler: async (m) => {
          inbox.push(seen(m))
          // 4 × ack wait/3 ≈ 1.3 ack waits of work, reporting progress in between.
          for (let i = 0; i < 4; i++) {
            await work(ACK_WAIT / 3)
            await m.inProgress()
          }
          await m.ack()
        },
      })
      await bus.publish(OTP, { n: 1 })
      await inbox.until((i) => i.length >= 1, 'delivery')
      await eventually(async () => (await bus.pending('otp')) === 0, 'the ack', 5_000)
      assert.equal(inbox.items.length, 1, 'not redelivered while in progress')
    }),
  )

  it(
    'term settles a message for good',
    withBus(async ({ bus }) => {
      const inbox = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        handler: async (m) => {
          inbox.push(seen(m))
          await m.term()
        },
      })
      await bus.publish(OTP, { n: 1 })
      await inbox.until((i) => i.length >= 1, 'delivery')
      await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0 after term')
      await holdsFor(() => inbox.items.length === 1, 2 * ACK_WAIT, 'a single delivery')
    }),
  )

  it(
    'stops redelivering after maxDeliver deliveries (nak or ack timeout alike)',
    withBus(async ({ bus }) => {
      const inbox = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        maxDeliver: 3,
        handler: async (m) => {
          inbox.push(seen(m))
          // 1: nak, 2: let the ack wait expire, 3: nak — and no fourth.
          if (m.deliveryCount !== 2) await m.nak()
        },
      })
      await bus.publish(OTP, { n: 1 })
      await inbox.until((i) => i.length >= 3, 'three deliveries')
      await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0 once exhausted')
      await holdsFor(() => inbox.items.length === 3, 2 * ACK_WAIT, 'exactly three deliveries')
      assert.deepEqual(
        inbox.items.map((s) => s.deliveryCount),
        [1, 2, 3],
      )
    }),
  )

  it(
    'a handler that throws gets its message redelivered, after errorDelayMs, and is reported',
    withBus(async ({ bus, errors }) => {
      const inbox = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: 10_000,
        errorDelayMs: 100,
        handler: async (m) => {
          inbox.push(seen(m))
          if (m.data.n === 2) {
            await m.ack()
            throw new Error('failed after settling')
          }
          if (m.deliveryCount === 1) throw new Error('carrier down')
          await m.ack()
        },
      })
      await bus.publish(OTP, { n: 1 })
      const [a, b] = await inbox.until((i) => i.length >= 2, 'the redelivery')
      assert.equal(b?.deliveryCount, 2)
      assert.ok((b?.at ?? 0) - (a?.at ?? 0) >= 100 - SLACK, 'waited errorDelayMs')
      const reported = errors.find((e) => e instanceof BusHandlerError)
      assert.ok(reported instanceof BusHandlerError)
      assert.equal((reported.cause as Error).message, 'carrier down')
      assert.equal(reported.deliveryCount, 1)

      // A throw after the handler settled changes nothing: the first settlement wins.
      await bus.publish(OTP, { n: 2 })
      await inbox.until((i) => i.some((s) => s.data.n === 2), 'second message')
      await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0')
      await holdsFor(() => inbox.items.filter((s) => s.data.n === 2).length === 1, 300, 'one delivery')
    }),
  )
}
