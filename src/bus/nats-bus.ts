/**
 * The JetStream adapter: one file-backed stream (default `SMSGW`, subjects `sms.>`) with limits
 * retention, durable pull consumers with explicit acks. Decisions in docs/adr/0004-bus.md.
 *
 * Outages: the connection reconnects forever (every reconnectWaitMs plus jitter) and consumers
 * resume by themselves. A publish waits at most publishTimeoutMs for the broker's confirmation,
 * then rejects with BusUnavailableError: the caller keeps its outbox row and publishes again
 * with the same msgId, which the duplicate window turns into a no-op if the first one landed.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import {
  connect,
  headers,
  type MsgHdrs,
  type Subscription as NatsSubscription,
} from '@nats-io/transport-node'
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
import { decodePayload, encodePayload } from './codec.ts'
import { BusClosedError, BusError, BusUnavailableError } from './errors.ts'
import { startNatsConsumer } from './nats-consumer.ts'
import { type DurableSettings, durablePending, ensureDurable, ensureStream } from './nats-setup.ts'
import {
  assertBroadcastSubject,
  assertFilterSubject,
  assertPattern,
  assertPublishSubject,
  DEFAULT_SUBJECTS,
} from './subject-rules.ts'

export interface NatsBusOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[]
  /** Stream name (default `SMSGW`). */
  stream?: string
  /** Subjects the stream stores (default `sms.>`), as callers write them (before the prefix). */
  subjects?: string[]
  /** Token put in front of every subject on the wire, to run isolated copies on one server (tests, staging). */
  subjectPrefix?: string
  /** msgId de-duplication window (default 120 000 ms); longer costs broker memory per message/s. */
  duplicateWindowMs?: number
  /** Stored messages older than this are discarded, acked or not (default 24 h). */
  maxAgeMs?: number
  /** Stream size cap in bytes, oldest discarded first (default -1: none). */
  maxBytes?: number
  /** Stream replicas: 3 on a 3-node cluster (default 1). */
  replicas?: number
  /** How long publish, pending and healthy wait for the broker (default 5 000 ms). */
  publishTimeoutMs?: number
  /** Delay between reconnect attempts, plus up to as much jitter (default 1 000 ms). */
  reconnectWaitMs?: number
  /** Client name shown by the server's monitoring (default `smsgw`). */
  name?: string
  /** Where handler errors and consumer trouble are reported (default: process warning). */
  onError?: BusErrorHandler
}

const natsHeaders = (h: Readonly<Record<string, string>>): MsgHdrs => {
  const out = headers()
  for (const [k, v] of Object.entries(h)) out.set(k, v)
  return out
}

export async function createNatsBus(opts: NatsBusOptions): Promise<Bus> {
  const stream = opts.stream ?? 'SMSGW'
  const subjects = opts.subjects ?? DEFAULT_SUBJECTS
  const prefix = opts.subjectPrefix ? `${opts.subjectPrefix}.` : ''
  const timeout = opts.publishTimeoutMs ?? 5_000
  const onError = opts.onError ?? warnOnError
  const wire = (subject: string) => prefix + subject
  const logical = (subject: string) => (subject.startsWith(prefix) ? subject.slice(prefix.length) : subject)

  const nc = await connect({
    servers: opts.servers,
    name: opts.name ?? 'smsgw',
    // Async stack traces cost every request a captured Error; without them publish measured 2x faster.
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectWaitMs ?? 1_000,
    reconnectJitter: opts.reconnectWaitMs ?? 1_000,
    // The default 2 min ping would leave a half-open connection (no RST) unnoticed for minutes.
    pingInterval: 10_000,
    maxPingOut: 3,
  })
  const jsm = await jetstreamManager(nc, { timeout })
  const js = jsm.jetstream()
  const streamSettings = {
    name: stream,
    subjects: subjects.map(wire),
    duplicateWindowMs: opts.duplicateWindowMs ?? 120_000,
    maxAgeMs: opts.maxAgeMs ?? 86_400_000,
    maxBytes: opts.maxBytes ?? -1,
    replicas: opts.replicas ?? 1,
  }
  try {
    await ensureStream(jsm, streamSettings)
  } catch (err) {
    await nc.close()
    throw err
  }

  let connected = true
  let closed = false
  const consumers = new Set<Consumer>()
  const durables = new Map<string, DurableSettings>()
  const live = new Set<NatsSubscription>()

  // A broker that came back without its store (new node, wiped volume) gets the stream and
  // durables again; consume() then finds them and resumes.
  const realign = async () => {
    await ensureStream(jsm, streamSettings)
    for (const d of durables.values()) await ensureDurable(jsm, stream, d)
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false
      if (s.type === 'reconnect') {
        connected = true
        realign().catch((err) =>
          onError(new BusUnavailableError('re-creating stream after reconnect failed', { cause: err })),
        )
      }
    }
  })().catch(onError)

  const assertOpen = () => {
    if (closed || nc.isClosed()) throw new BusClosedError()
  }
  const unavailable = (what: string, err: unknown) => {
    if (err instanceof BusError) return err
    if (closed || nc.isClosed()) return new BusClosedError()
    return new BusUnavailableError(`NATS: ${what} (${String(err)})`, { cause: err })
  }

  return {
    async publish<T>(subject: string, data: T, o?: PublishOptions): Promise<PublishResult> {
      assertOpen()
      assertPublishSubject(subjects, subject)
      const payload = encodePayload(data)
      try {
        const ack = await js.publish(wire(subject), payload, {
          timeout,
          ...(o?.msgId === undefined ? {} : { msgID: o.msgId }),
          ...(o?.headers === undefined ? {} : { headers: natsHeaders(o.headers) }),
        })
        return { duplicate: ack.duplicate, seq: ack.seq }
      } catch (err) {
        throw unavailable(`publish to ${subject} not confirmed; retry with the same msgId`, err)
      }
    },

    async consume<T>(options: ConsumeOptions<T>): Promise<Consumer> {
      assertOpen()
      const o = resolveConsumeOptions(options)
      assertFilterSubject(subjects, o.subject)
      const settings = {
        durable: o.durable,
        filterSubject: wire(o.subject),
        ackWaitMs: o.ackWaitMs,
        maxDeliver: o.maxDeliver,
        maxAckPending: o.maxAckPending,
        startAt: o.startAt,
      }
      let c: Consumer
      try {
        await ensureDurable(jsm, stream, settings)
        durables.set(o.durable, settings)
        c = await startNatsConsumer({ js, stream, options: o, logical, onError })
      } catch (err) {
        throw unavailable(`cannot start a consumer of ${o.durable}`, err)
      }
      const consumer: Consumer = {
        async stop() {
          consumers.delete(consumer)
          await c.stop()
        },
      }
      consumers.add(consumer)
      return consumer
    },

    async pending(durable: string): Promise<number> {
      assertOpen()
      try {
        return await durablePending(jsm, stream, durable)
      } catch (err) {
        throw unavailable(`cannot read pending of ${durable}`, err)
      }
    },

    async broadcast<T>(subject: string, data: T): Promise<void> {
      assertOpen()
      assertBroadcastSubject(subjects, subject)
      const payload = encodePayload(data)
      try {
        // A core publish (not stored); the flush makes sure the broker has it before we return.
        nc.publish(wire(subject), payload)
        await nc.flush()
      } catch (err) {
        throw unavailable(`broadcast to ${subject} not confirmed`, err)
      }
    },

    async subscribe<T>(pattern: string, handler: (m: LiveMessage<T>) => void): Promise<Subscription> {
      assertOpen()
      assertPattern(pattern)
      // A plain core subscription: JetStream publishes reach core subscribers too, for free.
      const sub = nc.subscribe(wire(pattern), {
        callback: (err, msg) => {
          try {
            if (err) throw err
            handler({ subject: logical(msg.subject), data: decodePayload<T>(msg.data) })
          } catch (e) {
            onError(e as Error)
          }
        },
      })
      live.add(sub)
      // Resolve once the server has the interest: a caller that reads state after subscribing
      // (a resumed live stream) must not miss what is published in between.
      await nc.flush()
      return {
        async stop() {
          live.delete(sub)
          sub.unsubscribe()
        },
      }
    },

    async healthy() {
      if (closed || nc.isClosed() || !connected) return false
      try {
        await jsm.streams.info(stream)
        return true
      } catch {
        return false
      }
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...consumers].map((c) => c.stop()))
      for (const s of live) s.unsubscribe()
      // Acks are fire-and-forget writes: flush so the last ones reach the broker before we hang up.
      if (connected) {
        await Promise.race([nc.flush(), new Promise((r) => setTimeout(r, timeout).unref())]).catch(onError)
      }
      await nc.close()
    },
  } satisfies Bus
}
