/** Contract: what is published is delivered once, in order, to the right subject only. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { BusMessage } from '../../../src/bus/bus.ts'
import { BusClosedError, BusConfigError, BusPayloadError, BusSubjectError } from '../../../src/bus/errors.ts'
import { ACK_WAIT, BULK, type Job, OTP, type Seen, seen, type WithBus } from './fixtures.ts'
import { eventually, Inbox } from './wait.ts'

export function deliveryCases(withBus: WithBus): void {
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
    'broadcast reaches subscribers of a subject outside the stream; stream subjects are refused',
    withBus(async ({ bus }) => {
      const live = new Inbox<{ subject: string; data: Job }>()
      const sub = await bus.subscribe<Job>('ctl.test.>', (m) => live.push(m))
      const stored = new Inbox<Seen>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        handler: async (m) => {
          stored.push(seen(m))
          await m.ack()
        },
      })
      await bus.broadcast('ctl.test.a', { n: 1 })
      // A stream subject is refused: on NATS the broker would store it.
      await assert.rejects(bus.broadcast(OTP, { n: 2 }), BusSubjectError)
      await bus.publish(OTP, { n: 3 })
      await live.until((i) => i.length >= 1, 'the broadcast')
      await stored.until((i) => i.length >= 1, 'the published message')
      assert.deepEqual(live.items, [{ subject: 'ctl.test.a', data: { n: 1 } }])
      assert.deepEqual(
        stored.items.map((m) => m.data),
        [{ n: 3 }],
      )
      await assert.rejects(bus.broadcast('ctl.*', { n: 4 }), BusSubjectError)
      await sub.stop()
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

  it(
    'carries headers (trace context) with a message, on redelivery too; a message without has none',
    withBus(async ({ bus }) => {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
      const inbox = new Inbox<{ n: number; tp: string | undefined; ts: string | undefined; id: string }>()
      await bus.consume<Job>({
        durable: 'otp',
        subject: OTP,
        ackWaitMs: ACK_WAIT,
        handler: async (m) => {
          inbox.push({ n: m.data.n, tp: m.header('traceparent'), ts: m.header('tracestate'), id: m.id })
          // The first delivery of n=1 is handed back: the redelivery must keep its headers.
          if (m.data.n === 1 && m.deliveryCount === 1) await m.nak()
          else await m.ack()
        },
      })
      await bus.publish(OTP, { n: 1 }, { msgId: 'h1', headers: { traceparent, tracestate: 'smsgw=1' } })
      await bus.publish(OTP, { n: 2 }, { msgId: 'h2' })
      await inbox.until((i) => i.length >= 3, 'three deliveries')
      const ofOne = inbox.items.filter((i) => i.n === 1)
      assert.equal(ofOne.length, 2)
      for (const d of ofOne) assert.deepEqual(d, { n: 1, tp: traceparent, ts: 'smsgw=1', id: 'h1' })
      assert.deepEqual(
        inbox.items.find((i) => i.n === 2),
        { n: 2, tp: undefined, ts: undefined, id: 'h2' },
      )
    }),
  )
}
