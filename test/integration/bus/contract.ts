/**
 * The Bus contract: every adapter (JetStream, in-process) must pass the same tests. Each test gets
 * a fresh bus (on NATS: its own stream and subject prefix) and waits on events or conditions
 * with deadlines. Timings use short ack waits so redelivery tests take well under a second.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { Bus, BusMessage } from '../../../src/bus/bus.ts'
import {
  BusClosedError,
  BusConfigError,
  BusHandlerError,
  BusPayloadError,
  BusSubjectError,
} from '../../../src/bus/errors.ts'
import { eventually, gate, holdsFor, Inbox, work } from './wait.ts'

export interface BusUnderTest {
  bus: Bus
  /** What the bus reported through onError. */
  errors: Error[]
  /** Closes the bus and removes what it created on the broker. */
  cleanup(): Promise<void>
}

export type MakeBus = () => Promise<BusUnderTest>

const OTP = 'sms.deliver.otp'
const BULK = 'sms.deliver.bulk'
const ACK_WAIT = 400
/** Node timers may fire up to ~1 ms early and clocks differ by rounding: lower bounds allow this. */
const SLACK = 5

interface Job {
  n: number
}

interface Seen {
  id: string
  seq: number
  subject: string
  data: Job
  deliveryCount: number
  at: number
}

const seen = (m: BusMessage<Job>): Seen => ({
  id: m.id,
  seq: m.seq,
  subject: m.subject,
  data: m.data,
  deliveryCount: m.deliveryCount,
  at: Date.now(),
})

export function busContract(name: string, makeBus: MakeBus): void {
  const withBus = (fn: (t: BusUnderTest, ctx: TestContext) => Promise<void>) => async (ctx: TestContext) => {
    const b = await makeBus()
    try {
      await fn(b, ctx)
    } finally {
      await b.cleanup()
    }
  }

  describe(`bus contract: ${name}`, () => {
    it(
      'delivers a published message once, as published; ack settles it',
      withBus(async ({ bus }) => {
        const inbox = new Inbox<Seen>()
        await bus.consume<Job & { at?: string }>({
          durable: 'otp',
          subject: OTP,
          ackWaitMs: ACK_WAIT,
          handler: async (m) => {
            inbox.push(seen(m))
            await m.ack()
          },
        })
        const r = await bus.publish(OTP, { n: 1, at: new Date(0) }, { msgId: 'm1:1' })
        assert.equal(r.duplicate, false)
        const anon = await bus.publish(OTP, { n: 2 })
        const [first, second] = await inbox.until((i) => i.length >= 2, 'two deliveries')
        assert.deepEqual(
          { ...first, at: 0 },
          {
            id: 'm1:1',
            seq: r.seq,
            subject: OTP,
            data: { n: 1, at: '1970-01-01T00:00:00.000Z' },
            deliveryCount: 1,
            at: 0,
          },
        )
        assert.equal(second?.id, `seq:${anon.seq}`, 'without msgId the id is the stream sequence')
        assert.ok(anon.seq > r.seq)
        // An unsettled or lost ack would keep the message pending until it is redelivered.
        await eventually(async () => (await bus.pending('otp')) === 0, 'pending 0 after the acks')
        assert.equal(inbox.items.length, 2)
      }),
    )

    it(
      'stores a msgId once within the duplicate window; the duplicate is not consumed',
      withBus(async ({ bus }) => {
        const a = await bus.publish(OTP, { n: 1 }, { msgId: 'm2:1' })
        const b = await bus.publish(OTP, { n: 1 }, { msgId: 'm2:1' })
        const c = await bus.publish(OTP, { n: 2 }, { msgId: 'm2:2' })
        assert.deepEqual(b, { duplicate: true, seq: a.seq })
        assert.equal(c.duplicate, false)
        const inbox = new Inbox<Seen>()
        await bus.consume<Job>({
          durable: 'otp',
          subject: OTP,
          concurrency: 1,
          handler: async (m) => {
            inbox.push(seen(m))
            await m.ack()
          },
        })
        // m2:2 was stored after the duplicate: once it arrives, a second copy would have too.
        await inbox.until((i) => i.some((s) => s.id === 'm2:2'), 'the next message')
        assert.deepEqual(
          inbox.items.map((s) => s.id),
          ['m2:1', 'm2:2'],
        )
      }),
    )

    it(
      'rejects subjects outside the stream, wildcards, bad names and unserialisable data',
      withBus(async ({ bus }) => {
        const handler = async () => {}
        await assert.rejects(bus.publish('other.deliver.otp', { n: 1 }), BusSubjectError)
        await assert.rejects(bus.publish('sms.deliver.*', { n: 1 }), BusSubjectError)
        await assert.rejects(bus.publish('sms..otp', { n: 1 }), BusSubjectError)
        await assert.rejects(bus.publish(OTP, undefined), BusPayloadError)
        await assert.rejects(bus.publish(OTP, { n: 1n }), BusPayloadError)
        await assert.rejects(bus.consume({ durable: 'x', subject: 'other.>', handler }), BusSubjectError)
        await assert.rejects(bus.consume({ durable: 'x', subject: 'sms', handler }), BusSubjectError)
        await assert.rejects(bus.consume({ durable: 'a.b', subject: OTP, handler }), BusConfigError)
        await assert.rejects(
          bus.consume({ durable: 'x', subject: OTP, concurrency: 0, handler }),
          BusConfigError,
        )
        await assert.rejects(
          bus.subscribe('sms..x', () => {}),
          BusSubjectError,
        )
        const c = await bus.consume({ durable: 'x', subject: OTP, handler })
        await assert.rejects(bus.consume({ durable: 'x', subject: BULK, handler }), BusConfigError)
        await c.stop()
      }),
    )

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
        const gap = (b?.at ?? 0) - (a?.at ?? 0)
        assert.ok(gap >= ACK_WAIT - SLACK, `redelivered after ${gap} ms, before the ${ACK_WAIT} ms ack wait`)
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

    it(
      'lanes are isolated: a consumer sees only its subject',
      withBus(async ({ bus }) => {
        const otp = new Inbox<Seen>()
        const status = new Inbox<Seen>()
        const record = (inbox: Inbox<Seen>) => async (m: BusMessage<Job>) => {
          inbox.push(seen(m))
          await m.ack()
        }
        await bus.consume<Job>({ durable: 'otp', subject: OTP, handler: record(otp) })
        await bus.consume<Job>({ durable: 'status', subject: 'sms.status.>', handler: record(status) })
        for (let n = 0; n < 3; n++) await bus.publish(BULK, { n })
        await bus.publish('sms.status.c1.sent', { n: 10 })
        await bus.publish(OTP, { n: 20 })
        // Stream order: the bulk ones were stored first, so they would have arrived before this.
        await otp.until((i) => i.some((s) => s.data.n === 20), 'the otp message')
        await status.until((i) => i.length >= 1, 'the status event')
        assert.deepEqual(
          otp.items.map((s) => s.subject),
          [OTP],
        )
        assert.deepEqual(
          status.items.map((s) => s.subject),
          ['sms.status.c1.sent'],
        )
        // A lane's backlog waits for its own consumer, however late it comes.
        const bulk = new Inbox<Seen>()
        await bus.consume<Job>({ durable: 'bulk', subject: BULK, handler: record(bulk) })
        await bulk.until((i) => i.length >= 3, 'the bulk backlog')
        assert.ok(bulk.items.every((s) => s.subject === BULK))
      }),
    )

    it(
      'keeps publish order within a subject for a single consumer',
      withBus(async ({ bus }) => {
        const inbox = new Inbox<Seen>()
        await bus.consume<Job>({
          durable: 'otp',
          subject: OTP,
          concurrency: 1,
          handler: async (m) => {
            inbox.push(seen(m))
            await m.ack()
          },
        })
        const N = 200
        await Promise.all(Array.from({ length: N }, (_, n) => bus.publish(OTP, { n })))
        await inbox.until((i) => i.length >= N, 'all messages')
        const seqs = inbox.items.map((s) => s.seq)
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
        )
        assert.equal(new Set(seqs).size, N)
      }),
    )

    it(
      'subscribe gets live copies of matching publishes',
      withBus(async ({ bus }) => {
        const live = new Inbox<{ subject: string; data: Job }>()
        const sub = await bus.subscribe<Job>('sms.status.c1.>', (m) => live.push(m))
        await bus.publish(OTP, { n: 0 })
        await bus.publish('sms.status.c2.sent', { n: 1 })
        await bus.publish('sms.status.c1.sent', { n: 2 })
        await bus.publish('sms.status.c1.delivered', { n: 3 })
        await live.until((i) => i.length >= 2, 'two live events')
        assert.deepEqual(live.items, [
          { subject: 'sms.status.c1.sent', data: { n: 2 } },
          { subject: 'sms.status.c1.delivered', data: { n: 3 } },
        ])
        await sub.stop()
      }),
    )

    it(
      'is healthy until closed; a closed bus refuses work',
      withBus(async ({ bus }) => {
        assert.equal(await bus.healthy(), true)
        await bus.close()
        assert.equal(await bus.healthy(), false)
        await assert.rejects(bus.publish(OTP, { n: 1 }), BusClosedError)
        await assert.rejects(
          bus.consume({ durable: 'x', subject: OTP, handler: async () => {} }),
          BusClosedError,
        )
        await bus.close() // idempotent
      }),
    )
  })

  describe(`bus throughput: ${name}`, () => {
    it(
      'prints publish and consume rates for 20k messages (measured, not asserted)',
      withBus(async ({ bus }, t) => {
        const N = 20_000
        const WINDOW = 1_000
        const t0 = performance.now()
        let next = 0
        const publisher = async () => {
          while (next < N) {
            const n = next++
            await bus.publish(
              BULK,
              { n, to: '+14155550123', body: 'Your code is 123456' },
              { msgId: `tp-${n}` },
            )
          }
        }
        await Promise.all(Array.from({ length: WINDOW }, publisher))
        const t1 = performance.now()
        let handled = 0
        const done = new Inbox<number>()
        await bus.consume<Job>({
          durable: 'bench',
          subject: BULK,
          concurrency: 256,
          maxAckPending: 10_000,
          handler: async (m) => {
            await m.ack()
            if (++handled % 1000 === 0) done.push(handled)
          },
        })
        await done.until(() => handled >= N, `${N} consumed`, 60_000)
        const t2 = performance.now()
        const rate = (ms: number) => Math.round((N / ms) * 1000)
        const line = `${name}: publish ${rate(t1 - t0)} msg/s, consume+ack ${rate(t2 - t1)} msg/s (N=${N}, ${WINDOW} publishes in flight, msgId on each)`
        t.diagnostic(line)
        console.log(`[throughput] ${line}`)
        await eventually(async () => (await bus.pending('bench')) === 0, 'pending 0', 10_000)
      }),
    )
  })
}
