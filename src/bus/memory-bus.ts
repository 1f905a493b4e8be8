/**
 * The in-process bus of the embedded default (`smsgw start` with no NATS_URL). Same semantics as
 * the JetStream adapter within one process: at-least-once delivery, ack wait and redelivery with
 * deliveryCount, maxDeliver, nak delay, term, msgId de-duplication, shared durables (round robin).
 *
 * Everything lives in memory and is lost with the process. That is deliberate: in the embedded
 * default the durable state is the PostgreSQL outbox, and the dispatcher re-publishes whatever
 * had not reached a final status when the process restarts (invariant 3 rests on PG, not here).
 */
import {
  type Bus,
  type BusErrorHandler,
  type ConsumeOptions,
  type Consumer,
  type LiveMessage,
  type PublishOptions,
  type PublishResult,
  resolveConsumeOptions,
  type Subscription,
  warnOnError,
} from './bus.ts'
import { decodePayload, toJson } from './codec.ts'
import { createDelivery, handleDelivery } from './delivery.ts'
import { BusClosedError, BusConfigError } from './errors.ts'
import { createInFlight } from './in-flight.ts'
import { type DurableMember, MemoryDurable, type StoredMessage } from './memory-durable.ts'
import {
  assertBroadcastSubject,
  assertFilterSubject,
  assertPattern,
  assertPublishSubject,
  DEFAULT_SUBJECTS,
  subjectMatches,
} from './subject-rules.ts'

export interface MemoryBusOptions {
  /** Subjects the bus stores (default `sms.>`); publishing elsewhere is an error, as on NATS. */
  subjects?: string[]
  /** How long a msgId is remembered for de-duplication (default 120 000 ms, as JetStream). */
  duplicateWindowMs?: number
  /** Stored messages kept at most; the oldest go first, even if unconsumed (default 100 000). */
  maxMessages?: number
  /** Where handler errors and the like are reported (default: process warning). */
  onError?: BusErrorHandler
}

interface LiveSubscriber {
  pattern: string
  handler: (m: LiveMessage<unknown>) => void
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export function createMemoryBus(opts: MemoryBusOptions = {}): Bus {
  const subjects = opts.subjects ?? DEFAULT_SUBJECTS
  const duplicateWindowMs = opts.duplicateWindowMs ?? 120_000
  const maxMessages = opts.maxMessages ?? 100_000
  const onError = opts.onError ?? warnOnError

  // Map iteration follows insertion, so the first entry is always the oldest (eviction, expiry).
  const messages = new Map<number, StoredMessage>()
  const seen = new Map<string, { seq: number; at: number }>()
  const durables = new Map<string, MemoryDurable>()
  const consumers = new Set<Consumer>()
  const live = new Set<LiveSubscriber>()
  let lastSeq = 0
  let closed = false

  const store = {
    get: (seq: number) => messages.get(seq),
    release(seq: number) {
      const m = messages.get(seq)
      if (m && --m.refs <= 0) messages.delete(seq)
    },
  }

  const assertOpen = () => {
    if (closed) throw new BusClosedError()
  }

  const forget = (now: number) => {
    for (const [id, s] of seen) {
      if (now - s.at < duplicateWindowMs) break
      seen.delete(id)
    }
  }

  const fanOut = (subject: string, json: string) => {
    for (const s of live) {
      if (!subjectMatches(s.pattern, subject)) continue
      queueMicrotask(() => {
        try {
          s.handler({ subject, data: decodePayload(json) })
        } catch (err) {
          onError(err as Error)
        }
      })
    }
  }

  /** A new durable starts from every stored message of its subject, or from the next one. */
  const openDurable = (name: string, settings: MemoryDurable['settings'], startAt: 'all' | 'new') => {
    const d = new MemoryDurable(name, settings, store)
    durables.set(name, d)
    if (startAt === 'new') return d
    for (const m of messages.values()) {
      if (!subjectMatches(settings.subject, m.subject)) continue
      m.refs++
      d.enqueue(m.seq)
    }
    return d
  }

  const bus: Bus = {
    async publish<T>(subject: string, data: T, o?: PublishOptions): Promise<PublishResult> {
      assertOpen()
      assertPublishSubject(subjects, subject)
      const json = toJson(data)
      const now = Date.now()
      forget(now)
      const msgId = o?.msgId
      const earlier = msgId === undefined ? undefined : seen.get(msgId)
      if (earlier) return { duplicate: true, seq: earlier.seq }
      const seq = ++lastSeq
      if (msgId !== undefined) seen.set(msgId, { seq, at: now })
      const targets = [...durables.values()].filter((d) => subjectMatches(d.settings.subject, subject))
      const stored: StoredMessage = { seq, subject, id: msgId ?? `seq:${seq}`, json, refs: targets.length }
      if (o?.headers) stored.headers = new Map(Object.entries(o.headers))
      messages.set(seq, stored)
      for (const oldest of messages.keys()) {
        if (messages.size <= maxMessages) break
        messages.delete(oldest)
      }
      for (const d of targets) d.enqueue(seq)
      fanOut(subject, json)
      return { duplicate: false, seq }
    },

    async consume<T>(options: ConsumeOptions<T>): Promise<Consumer> {
      assertOpen()
      const o = resolveConsumeOptions(options)
      assertFilterSubject(subjects, o.subject)
      const settings = {
        subject: o.subject,
        ackWaitMs: o.ackWaitMs,
        maxDeliver: o.maxDeliver,
        maxAckPending: o.maxAckPending,
      }
      let durable = durables.get(o.durable)
      if (durable && durable.settings.subject !== o.subject) {
        throw new BusConfigError(
          `durable ${o.durable} filters ${durable.settings.subject}, cannot consume ${o.subject}`,
        )
      }
      // Like a JetStream consumer update: the latest consumer's settings apply to the durable.
      if (durable) durable.settings = settings
      else durable = openDurable(o.durable, settings, o.startAt)
      const d = durable

      let stopped = false
      const inFlight = createInFlight(o.concurrency, () => d.pump())
      const handle = { durable: o.durable, handler: o.handler, errorDelayMs: o.errorDelayMs, onError }
      const member: DurableMember = {
        get full() {
          return stopped || inFlight.full
        },
        deliver(fields, settler) {
          const delivery = createDelivery(fields as typeof fields & { data: T }, settler)
          // Start on a later turn of the event loop, as a network delivery would: a handler never
          // runs inside publish, and a handler that naks forever cannot starve timers and I/O.
          // Stopped meanwhile: hand it back unstarted, as the NATS consumer does with its buffer.
          const run = () => (stopped ? delivery.message.nak() : handleDelivery(delivery, handle))
          inFlight.start(nextTurn().then(run))
        },
      }
      const consumer: Consumer = {
        async stop() {
          stopped = true
          d.detach(member)
          consumers.delete(consumer)
          await inFlight.whenIdle()
        },
      }
      consumers.add(consumer)
      d.attach(member)
      return consumer
    },

    async pending(durable: string): Promise<number> {
      assertOpen()
      return durables.get(durable)?.pending ?? 0
    },

    async broadcast<T>(subject: string, data: T): Promise<void> {
      assertOpen()
      assertBroadcastSubject(subjects, subject)
      fanOut(subject, toJson(data))
    },

    async subscribe<T>(pattern: string, handler: (m: LiveMessage<T>) => void): Promise<Subscription> {
      assertOpen()
      assertPattern(pattern)
      const s: LiveSubscriber = { pattern, handler: handler as LiveSubscriber['handler'] }
      live.add(s)
      return {
        async stop() {
          live.delete(s)
        },
      }
    },

    async healthy() {
      return !closed
    },

    async close() {
      if (closed) return
      closed = true
      live.clear()
      await Promise.all([...consumers].map((c) => c.stop()))
      for (const d of durables.values()) d.close()
      durables.clear()
      messages.clear()
      seen.clear()
    },
  }
  return bus
}
