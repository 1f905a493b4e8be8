// The webhooks role: status events (and dispatched messages, for message.queued) from the bus are
// queued durably in PostgreSQL, then attempted from per-target in-memory queues with their own
// concurrency, so a slow or dead endpoint only ever fills its own queue (ADR 0010).

import { batchItems } from '../bus/batch.ts'
import type { Bus, BusMessage, Consumer } from '../bus/bus.ts'
import { DELIVERY_JOBS, STATUS_EVENTS } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import { backoffDelay } from '../domain/backoff.ts'
import { isUuid, uuidV7Time } from '../domain/ids.ts'
import type { DeliveryJob } from '../domain/message.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { createPollLoop } from '../lib/poll-loop.ts'
import { stderrReporter } from '../observability/reporter.ts'
import { customerEventId, queuedEventId, statusEventId } from './event-ids.ts'
import { type EventEnvelope, findEvents } from './events-repository.ts'
import { type StatusEvent, statusEventsOf } from './status-events.ts'
import { type AddressPolicy, refuseUrl } from './webhook-address.ts'
import { callbackSecrets, type SigningEndpoint, signingEndpoints } from './webhook-endpoints-repository.ts'
import {
  type AttemptRecord,
  abandonDelivery,
  type ClaimedDelivery,
  claimDue,
  disableEndpoint,
  type EnqueueEvent,
  enqueueEvent,
  enqueueEvents,
  recordAttempts,
  releaseClaims,
} from './webhook-queue.ts'
import type { AttemptOutcome, WebhookSender } from './webhook-sender.ts'

const HOUR = 3_600_000
/** Attempts of one target in flight at once, and connections of its pool. */
export const DEFAULT_PER_TARGET = 16
/** Retries stop this long after a chain's first attempt. */
export const RETRY_WINDOW_MS = 24 * HOUR

export interface WebhookDeliveryOptions extends AddressPolicy {
  db: Db
  bus: Bus
  sender: WebhookSender
  /** The operator's key that opens endpoint secrets (lazily resolved). */
  key: () => Buffer
  /** First retry delay, ms; doubles per attempt up to retryMaxMs (default 10 000). */
  retryBaseMs?: number
  /** Longest retry delay, ms (default 4 h; tests shorten it so a receiver back after a long outage is not waited out for minutes). */
  retryMaxMs?: number
  /** Attempts of one target in flight at once (default 16; the sender's pool per target has as many connections). */
  perTargetConcurrency?: number
  /** Deliveries of one target held in memory (running and waiting) before claims skip it (default 2 × concurrency). */
  perTargetQueue?: number
  /** Deliveries held in memory in all (default 2000). */
  maxInMemory?: number
  /**
   * A claimed delivery with no outcome this long is taken again by any process, ms (default 60 000):
   * it covers a wait behind one round of attempts at the 10 s timeout and the attempt itself.
   */
  leaseMs?: number
  /** An endpoint failing this long is disabled, ms (default 3 days). */
  disableAfterMs?: number
  /** Bus durable names' prefix (default `webhooks`). */
  durablePrefix?: string
  /** Every attempt's outcome, with its latency when a request was made. */
  onAttempt?: (target: string, outcome: AttemptOutcome['kind'] | 'abandoned', latencyMs?: number) => void
  onError?: (err: unknown) => void
}

export interface WebhookDelivery {
  start(): Promise<void>
  /** One claim pass (tests); returns how many deliveries were taken. */
  pass(): Promise<number>
  /** Claims at once (deliveries were just queued in this process). */
  wake(): void
  stop(): Promise<void>
}

interface TargetQueue {
  items: ClaimedDelivery[]
  running: number
}

export function createWebhookDelivery(opts: WebhookDeliveryOptions): WebhookDelivery {
  const { db, bus, sender } = opts
  const retryBaseMs = opts.retryBaseMs ?? 10_000
  const retryMaxMs = opts.retryMaxMs ?? 4 * HOUR
  const perTarget = opts.perTargetConcurrency ?? DEFAULT_PER_TARGET
  // Little is claimed ahead: what a dead process had claimed waits out a lease.
  const perTargetQueue = Math.max(perTarget, opts.perTargetQueue ?? 2 * perTarget)
  const maxInMemory = opts.maxInMemory ?? 2000
  const leaseMs = opts.leaseMs ?? 60_000
  const disableAfterMs = opts.disableAfterMs ?? 3 * 24 * HOUR
  const prefix = opts.durablePrefix ?? 'webhooks'
  const onError = opts.onError ?? stderrReporter('webhooks')
  const queues = new Map<string, TargetQueue>()
  const held = new Set<string>()
  const running = new Set<Promise<void>>()
  const consumers: Consumer[] = []
  let stopping = false

  // Events from the bus are queued in groups: one statement serves every handler waiting.
  const enqueuer = createGroupCommitter<EnqueueEvent, undefined>({
    maxBatch: 500,
    concurrency: 2,
    run: async (items) => {
      if ((await enqueueEvents(db, items)) > 0) loop.wake()
      return items.map(() => undefined)
    },
  })
  const enqueue = (e: EnqueueEvent) => enqueuer.submit(e)

  // What attempts read and write is batched the same way: attempts running at once share one
  // query for their endpoints, one per kind for their events, and one statement records them.
  const loader = <I, O>(run: (items: I[]) => Promise<O[]>) =>
    createGroupCommitter<I, O>({ maxBatch: 500, concurrency: 2, run })
  const endpoints = loader<string, SigningEndpoint | undefined>(async (ids) => {
    const found = await signingEndpoints(db, opts.key(), [...new Set(ids)])
    return ids.map((id) => found.get(id))
  })
  const events = loader<{ customerId: string; id: string }, EventEnvelope | undefined>(async (items) => {
    const found = await findEvents(db, items)
    return items.map((i) => found.get(i.id))
  })
  const recorder = loader<AttemptRecord, undefined>(async (records) => {
    for (const endpointId of await recordAttempts(db, records, disableAfterMs)) await disable(endpointId)
    return records.map(() => undefined)
  })

  /** The next attempt's time, or 'failed' once the chain's 24 h are spent. */
  function nextAttempt(
    d: ClaimedDelivery,
    outcome: Extract<AttemptOutcome, { kind: 'retry' }>,
  ): Date | 'failed' {
    const attempt = d.attempts + 1
    const backoff = backoffDelay(attempt, { initialMs: retryBaseMs, maxMs: retryMaxMs })
    const wait = Math.max(backoff, Math.min(outcome.retryAfterMs ?? 0, 6 * HOUR))
    const at = Date.now() + wait
    return at - new Date(d.chain_started_at).getTime() > RETRY_WINDOW_MS ? 'failed' : new Date(at)
  }

  /** The attempt's outcome, whether a request was made, or 'abandoned' (endpoint or event gone). */
  async function tryAttempt(
    d: ClaimedDelivery,
  ): Promise<{ outcome: AttemptOutcome; requested: boolean; internal?: boolean } | 'abandoned'> {
    let secrets: string[]
    let url: string | undefined
    const found = events.submit({ customerId: d.customer_id, id: d.event_id })
    // Awaited below unless the endpoint is gone first: its failure must not go unhandled then.
    found.catch(() => undefined)
    if (d.endpoint_id) {
      const endpoint = await endpoints.submit(d.endpoint_id)
      if (!endpoint?.enabled) return 'abandoned'
      secrets = endpoint.secrets
      url = endpoint.url
    } else {
      secrets = await callbackSecrets(db, opts.key(), d.customer_id)
    }
    const envelope = await found
    if (!envelope) return 'abandoned'
    if (!d.endpoint_id) {
      const cb = envelope.data.status_callback_url
      url = typeof cb === 'string' ? cb : undefined
    }
    if (!url) return 'abandoned'
    if (secrets.length === 0) {
      const error = 'no signing secret: the customer has no enabled webhook endpoint'
      return { outcome: { kind: 'final', error, latencyMs: 0 }, requested: false }
    }
    const refused = refuseUrl(url, opts)
    if (refused) return { outcome: { kind: 'final', error: refused, latencyMs: 0 }, requested: false }
    const outcome = await sender.send(
      { key: d.target, url },
      { id: envelope.id, body: JSON.stringify(envelope) },
      secrets,
    )
    return { outcome, requested: true }
  }

  async function attempt(d: ClaimedDelivery): Promise<void> {
    let tried: Awaited<ReturnType<typeof tryAttempt>>
    try {
      tried = await tryAttempt(d)
    } catch (err) {
      // A failure before the request (a secret this process cannot open, the database…) is an
      // attempt that failed: recorded, so backoff and the 24 h window apply instead of the row
      // being claimed again every lease for ever. The detail is the operator's, not the customer's.
      onError(new Error(`webhooks: attempt of delivery ${d.id} failed before its request`, { cause: err }))
      tried = {
        outcome: { kind: 'retry', error: 'internal error before the request', latencyMs: 0 },
        requested: false,
        internal: true,
      }
    }
    if (tried === 'abandoned') return abandon(d)
    const { outcome, requested, internal } = tried
    opts.onAttempt?.(d.target, outcome.kind, requested ? outcome.latencyMs : undefined)
    const next =
      outcome.kind === 'delivered'
        ? 'succeeded'
        : outcome.kind === 'final'
          ? 'failed'
          : nextAttempt(d, outcome)
    // From here the row's state is the outcome, not our lease: a claim that takes it once it is
    // due again must not be skipped as ours (it would sit out a whole lease).
    held.delete(d.id)
    // Recorded in a group with others; the target's slot is free once the answer is in.
    track(
      recorder.submit({
        delivery: d,
        latencyMs: outcome.latencyMs,
        next,
        ...(outcome.statusCode !== undefined ? { statusCode: outcome.statusCode } : {}),
        ...(outcome.kind !== 'delivered' ? { error: outcome.error } : {}),
        ...(internal ? { internal } : {}),
      }),
    )
  }

  function track(p: Promise<unknown>) {
    const tracked: Promise<void> = p
      .then(() => undefined)
      .catch((err) => onError(err))
      .finally(() => {
        running.delete(tracked)
        loop.wake()
      })
    running.add(tracked)
  }

  async function abandon(d: ClaimedDelivery) {
    held.delete(d.id)
    opts.onAttempt?.(d.target, 'abandoned')
    await abandonDelivery(db, d.id)
  }

  async function disable(endpointId: string) {
    const disabled = await db.transaction(async (tx) => {
      const ev = await disableEndpoint(tx, endpointId)
      if (ev) {
        await enqueueEvent(tx, {
          customerId: ev.customerId,
          eventId: customerEventId(ev.rowId, ev.at.getTime()),
          type: 'endpoint.disabled',
        })
      }
      return ev
    })
    if (disabled) loop.wake()
  }

  function pump(target: string) {
    const q = queues.get(target)
    if (!q) return
    while (!stopping && q.running < perTarget && q.items.length > 0) {
      const d = q.items.shift() as ClaimedDelivery
      q.running++
      const p = attempt(d)
        .catch((err) => onError(err))
        .finally(() => {
          held.delete(d.id)
          running.delete(p)
          q.running--
          if (q.running === 0 && q.items.length === 0) queues.delete(target)
          pump(target)
          loop.wake()
        })
      running.add(p)
    }
  }

  const pass = async () => {
    const room = maxInMemory - held.size
    if (room <= 0 || stopping) return 0
    const inMemory = new Map([...queues].map(([t, q]) => [t, q.items.length + q.running]))
    const claimed = await claimDue(db, Math.min(room, 500), inMemory, leaseMs, perTargetQueue)
    let n = 0
    for (const d of claimed) {
      // A lease that ran out while the delivery waited here: it is still ours.
      if (held.has(d.id)) continue
      held.add(d.id)
      const q = queues.get(d.target) ?? { items: [], running: 0 }
      queues.set(d.target, q)
      q.items.push(d)
      n++
    }
    for (const t of new Set(claimed.map((d) => d.target))) pump(t)
    return n
  }

  const loop = createPollLoop({ pass, idleMs: 20, maxIdleMs: 500, onError })

  async function poison(m: BusMessage<unknown>) {
    onError(new Error(`webhooks: unreadable payload on ${m.subject} (${m.id}), dropped`))
    await m.term()
  }

  return {
    pass,
    wake: () => loop.wake(),
    async start() {
      stopping = false
      consumers.push(
        await bus.consume<unknown>({
          durable: `${prefix}-status`,
          subject: STATUS_EVENTS,
          startAt: 'new',
          concurrency: 128,
          handler: async (m) => {
            const all = statusEventsOf(m.data)
            // A payload we cannot read would be redelivered for ever: reported and dropped.
            const events = all.filter(
              (e): e is StatusEvent =>
                isUuid((e as StatusEvent)?.customer_id) &&
                isUuid((e as StatusEvent).message_id) &&
                /^\d+$/.test((e as StatusEvent).id),
            )
            if (events.length === 0) return poison(m)
            if (events.length < all.length) {
              onError(
                new Error(`webhooks: ${all.length - events.length} unreadable event(s) in ${m.id}, dropped`),
              )
            }
            await Promise.all(
              events.map((e) =>
                enqueue({
                  customerId: e.customer_id,
                  eventId: statusEventId(e.id, Date.parse(e.created_at)),
                  type: e.type,
                  messageId: e.message_id,
                }),
              ),
            )
            await m.ack()
          },
        }),
        // message.queued is the dispatch of the message: no event row is written for it (ADR 0010).
        await bus.consume<unknown>({
          durable: `${prefix}-queued`,
          subject: DELIVERY_JOBS,
          startAt: 'new',
          concurrency: 128,
          handler: async (m) => {
            const all = batchItems(m.data) as DeliveryJob[]
            const jobs = all.filter((job) => isUuid(job?.customer_id) && uuidV7Time(job.id) !== null)
            if (jobs.length === 0) return poison(m)
            if (jobs.length < all.length) {
              onError(
                new Error(`webhooks: ${all.length - jobs.length} unreadable job(s) in ${m.id}, dropped`),
              )
            }
            await Promise.all(
              jobs.map((job) =>
                enqueue({
                  customerId: job.customer_id,
                  eventId: queuedEventId(job.id),
                  type: 'message.queued',
                  messageId: job.id,
                }),
              ),
            )
            await m.ack()
          },
        }),
      )
      loop.start()
    },
    async stop() {
      stopping = true
      await Promise.all(consumers.splice(0).map((c) => c.stop()))
      await loop.stop()
      const waiting = [...queues.values()].flatMap((q) => q.items.splice(0))
      for (const d of waiting) held.delete(d.id)
      await releaseClaims(
        db,
        waiting.map((d) => d.id),
      )
      await Promise.all([...running])
    },
  }
}
