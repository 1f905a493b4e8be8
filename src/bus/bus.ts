/**
 * The bus port: durable, at-least-once transport for delivery work (`sms.deliver.<lane>`),
 * status events (`sms.status.…`) and dead letters (`sms.dead.…`). Core code speaks this, never
 * `@nats-io/*`. Adapters: `nats-bus.ts` (JetStream) and `memory-bus.ts` (embedded default).
 * Both pass test/integration/bus/contract.ts.
 */
import { BusConfigError } from './errors.ts'

/** One delivery of a stored message. Settle it with one of ack, nak or term, called as methods. */
export interface BusMessage<T> {
  /** The msgId given to publish (our message id + attempt), or `seq:<n>` when there was none. */
  readonly id: string
  /** Position in the stream; grows with publish order. */
  readonly seq: number
  readonly subject: string
  /** A fresh copy per delivery: JSON round-tripped, so a Date arrives as its ISO string. */
  readonly data: T
  /** 1 on the first delivery, +1 for each redelivery (nak, ack timeout, handler error). */
  readonly deliveryCount: number
  /** Done: never redeliver. Settling twice is a no-op, as in nats.js. */
  ack(): Promise<void>
  /** Redeliver, after delayMs (default 0) — unless this was the maxDeliver-th delivery. */
  nak(delayMs?: number): Promise<void>
  /** Give up: never redeliver (poison message; the handler has dead-lettered it itself). */
  term(): Promise<void>
  /** A header given to publish (e.g. W3C `traceparent`), undefined when it had none. */
  header(name: string): string | undefined
  /** Still working: restarts the ack wait so a long handler is not redelivered meanwhile. */
  inProgress(): Promise<void>
}

export interface PublishOptions {
  /** De-dup id: a second publish with it inside the duplicate window is stored once. */
  msgId?: string
  /**
   * Headers stored with the message (NATS message headers), read back with BusMessage.header:
   * trace context (`traceparent`, `tracestate`). Names are ASCII and case-sensitive; absent: none.
   */
  headers?: Readonly<Record<string, string>>
}

export interface PublishResult {
  /** True when msgId was seen inside the duplicate window; nothing new was stored. */
  duplicate: boolean
  /** Stream sequence of the stored message (of the original one for a duplicate). */
  seq: number
}

export interface ConsumeOptions<T> {
  /** Shared durable name: every consumer with it shares the work, each message to one of them. */
  durable: string
  /** Filter subject, wildcards allowed (`sms.status.>`); one per durable. */
  subject: string
  /** Redeliver a message not settled within this many ms of its delivery (default 30 000). */
  ackWaitMs?: number
  /** Deliveries before the bus drops a message silently (default unlimited). */
  maxDeliver?: number
  /** Handlers of this consumer running at once; also its pull batch (default 16). */
  concurrency?: number
  /** Unsettled messages of the durable across all its consumers before delivery pauses (default 1000). */
  maxAckPending?: number
  /** nak delay when the handler throws, so a failing dependency is not hammered (default 1000). */
  errorDelayMs?: number
  /**
   * Where a durable created by this call starts: 'all' retained messages of its subject, or only
   * those published from now on, 'new' — for a status consumer added later, which must not replay
   * a day of events (default 'all'; an existing durable keeps its position).
   */
  startAt?: 'all' | 'new'
  handler: (m: BusMessage<T>) => Promise<void>
}

export interface Consumer {
  /** Stops fetching, hands unstarted messages back, resolves once running handlers finished. */
  stop(): Promise<void>
}

/** A best-effort, non-durable copy of what is published (for live streams): no ack, no replay. */
export interface LiveMessage<T> {
  readonly subject: string
  readonly data: T
}

export interface Subscription {
  stop(): Promise<void>
}

export interface Bus {
  /**
   * Stores data on a stream subject; resolves once the broker has stored it. Rejects with
   * BusUnavailableError when the broker cannot confirm in time: publish again with the same msgId.
   */
  publish<T>(subject: string, data: T, opts?: PublishOptions): Promise<PublishResult>
  /** Starts a consumer of a durable (created on first use; its state outlives consumers). */
  consume<T>(opts: ConsumeOptions<T>): Promise<Consumer>
  /** Messages of a durable not yet delivered plus delivered and unsettled; 0 for an unknown durable. */
  pending(durable: string): Promise<number>
  /**
   * Sends data to the subscribers of subject in every process, now, and stores nothing: no ack,
   * no replay, lost if the broker is unreachable. For hints such as cache invalidations, whose
   * receivers have another way to converge. The subject must not be one the stream stores.
   */
  broadcast<T>(subject: string, data: T): Promise<void>
  /** Live copies of published (or broadcast) messages matching subject (wildcards allowed); may miss or repeat some. Resolves once messages published from then on are seen. */
  subscribe<T>(subject: string, handler: (m: LiveMessage<T>) => void): Promise<Subscription>
  /** True while the broker is reachable and the stream is there. */
  healthy(): Promise<boolean>
  /** Stops every consumer and subscription (waiting for running handlers), then disconnects. */
  close(): Promise<void>
}

/** Where an adapter reports what has no caller to throw to (handler errors, poison payloads). */
export type BusErrorHandler = (err: Error) => void

/** Node's warning channel: visible by default, never silent. The app passes its logger instead. */
export const warnOnError: BusErrorHandler = (err) => process.emitWarning(err)

export type ResolvedConsumeOptions<T> = Required<ConsumeOptions<T>>

const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Applies the documented defaults and rejects options both adapters cannot honour. */
export function resolveConsumeOptions<T>(opts: ConsumeOptions<T>): ResolvedConsumeOptions<T> {
  const r = {
    ackWaitMs: 30_000,
    maxDeliver: Number.POSITIVE_INFINITY,
    concurrency: 16,
    maxAckPending: 1000,
    errorDelayMs: 1000,
    startAt: 'all' as const,
    ...stripUndefined(opts),
  }
  if (!DURABLE_NAME.test(r.durable)) {
    throw new BusConfigError(`durable name must match ${DURABLE_NAME}: ${JSON.stringify(r.durable)}`)
  }
  const positive = { ackWaitMs: r.ackWaitMs, maxDeliver: r.maxDeliver, concurrency: r.concurrency }
  for (const [k, v] of Object.entries({ ...positive, maxAckPending: r.maxAckPending })) {
    if (!(v >= 1) || (Number.isFinite(v) && !Number.isInteger(v))) {
      throw new BusConfigError(`${k} must be a positive integer, got ${v}`)
    }
  }
  if (!(r.errorDelayMs >= 0)) throw new BusConfigError(`errorDelayMs must be >= 0, got ${r.errorDelayMs}`)
  return r
}

function stripUndefined<O extends object>(o: O): O {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as O
}
