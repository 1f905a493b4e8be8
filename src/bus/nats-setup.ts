/** Creates or aligns the JetStream stream and durable consumers the NATS bus relies on. */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream'
import { BusConfigError } from './errors.ts'

const nanos = (ms: number) => Math.round(ms * 1_000_000)

export interface StreamSettings {
  name: string
  /** Wire subjects (already prefixed). */
  subjects: string[]
  duplicateWindowMs: number
  maxAgeMs: number
  maxBytes: number
  replicas: number
}

export interface DurableSettings {
  durable: string
  /** Wire filter subject (already prefixed). */
  filterSubject: string
  ackWaitMs: number
  maxDeliver: number
  maxAckPending: number
  startAt: 'all' | 'new'
}

const isApiError = (err: unknown, code: number) => err instanceof JetStreamApiError && err.code === code

/**
 * Limits retention on file storage: acked messages stay until max_age / max_bytes, so several
 * durables may read one subject (status events feed the writer, webhooks and rollups) — see
 * docs/adr/0004-bus.md for why not WorkQueue or Interest.
 */
export async function ensureStream(jsm: JetStreamManager, s: StreamSettings): Promise<void> {
  const wanted = {
    subjects: s.subjects,
    duplicate_window: nanos(s.duplicateWindowMs),
    max_age: nanos(s.maxAgeMs),
    max_bytes: s.maxBytes,
    num_replicas: s.replicas,
  } satisfies Partial<StreamConfig>
  const current = await streamConfig(jsm, s.name)
  if (!current) {
    try {
      await jsm.streams.add({
        name: s.name,
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        ...wanted,
      })
      return
    } catch (err) {
      // Another process may have created it between our lookup and add: align with theirs.
      if (!(await streamConfig(jsm, s.name))) throw err
      return ensureStream(jsm, s)
    }
  }
  if (current.retention !== RetentionPolicy.Limits) {
    throw new BusConfigError(`stream ${s.name} has ${current.retention} retention; the bus needs limits`)
  }
  const differs =
    current.subjects.join() !== wanted.subjects.join() ||
    current.duplicate_window !== wanted.duplicate_window ||
    current.max_age !== wanted.max_age ||
    current.max_bytes !== wanted.max_bytes ||
    current.num_replicas !== wanted.num_replicas
  if (differs) await jsm.streams.update(s.name, { ...current, ...wanted })
}

async function streamConfig(jsm: JetStreamManager, name: string): Promise<StreamConfig | undefined> {
  try {
    return (await jsm.streams.info(name)).config
  } catch (err) {
    if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return undefined
    throw err
  }
}

/** A durable pull consumer with explicit acks; an existing one gets the latest timing settings. */
export async function ensureDurable(
  jsm: JetStreamManager,
  stream: string,
  d: DurableSettings,
): Promise<void> {
  const wanted = {
    ack_wait: nanos(d.ackWaitMs),
    max_deliver: Number.isFinite(d.maxDeliver) ? d.maxDeliver : -1,
    max_ack_pending: d.maxAckPending,
  } satisfies Partial<ConsumerConfig>
  const current = await consumerConfig(jsm, stream, d.durable)
  if (!current) {
    try {
      await jsm.consumers.add(stream, {
        durable_name: d.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: d.startAt === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
        filter_subject: d.filterSubject,
        ...wanted,
      })
      return
    } catch (err) {
      if (!(await consumerConfig(jsm, stream, d.durable))) throw err
      return ensureDurable(jsm, stream, d)
    }
  }
  if (current.filter_subject !== d.filterSubject) {
    throw new BusConfigError(
      `durable ${d.durable} filters ${current.filter_subject}, cannot consume ${d.filterSubject}`,
    )
  }
  const differs =
    current.ack_wait !== wanted.ack_wait ||
    current.max_deliver !== wanted.max_deliver ||
    current.max_ack_pending !== wanted.max_ack_pending
  if (differs) await jsm.consumers.update(stream, d.durable, wanted)
}

async function consumerConfig(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<ConsumerConfig | undefined> {
  try {
    return (await jsm.consumers.info(stream, durable)).config
  } catch (err) {
    if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return undefined
    throw err
  }
}

/** Messages of a durable still owed: not yet delivered plus delivered and unacked; 0 if unknown. */
export async function durablePending(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<number> {
  try {
    const info = await jsm.consumers.info(stream, durable)
    return info.num_pending + info.num_ack_pending
  } catch (err) {
    if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return 0
    throw err
  }
}
