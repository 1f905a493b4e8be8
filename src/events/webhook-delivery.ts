// The webhooks role: status events (and dispatched messages, for message.queued) from the bus are
// queued durably in PostgreSQL, then attempted from per-target in-memory queues with their own
// concurrency, so a slow or dead endpoint only ever fills its own queue (ADR 0010).

import { readableItems } from '../bus/batch.ts'
import type { Bus, BusMessage, Consumer, Subscription } from '../bus/bus.ts'
import { DELIVERY_JOBS, ENDPOINT_CHANGES, STATUS_EVENTS } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import { backoffDelay } from '../domain/backoff.ts'
import { isUuid, uuidV7Time } from '../domain/ids.ts'
import type { DeliveryJob } from '../domain/message.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { createPollLoop } from '../lib/poll-loop.ts'
import { stderrReporter } from '../observability/reporter.ts'
import { createEndpointPresence } from './endpoint-presence.ts'
import { customerEventId, queuedEventId, statusEventId } from './event-ids.ts'
import { type EventEnvelope, findEvents } from './events-repository.ts'
import { type StatusEvent, statusEventsOf } from './status-events.ts'
import { type AddressPolicy, refuseUrl } from './webhook-address.ts'
import { createAdaptiveLimits, DEFAULT_INITIAL_LIMIT, DEFAULT_MAX_LIMIT } from './webhook-concurrency.ts'
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
/** Attempts of a target in flight at once before it showed it can take more (adaptive: ADR 0021). */
export const DEFAULT_PER_TARGET = DEFAULT_INITIAL_LIMIT
/** Claims walk every target with pending deliveries (when some are full) at most this often, ms. */
const WALK_MS = 250
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
  /**
   * Attempts of one target in flight at once, at most (default 64; the sender's pool per target
   * has as many connections). Each target starts at `perTargetInitial` (default 8) and grows while
   * it answers in time without retryable failures (webhook-concurrency.ts).
   */
  perTargetConcurrency?: number
  /** A target's concurrency before it showed it can take more (default 8). */
  perTargetInitial?: number
  /** An answer slower than this shrinks its target's concurrency, ms (default 2000). */
  perTargetSlowMs?: number
  /** Deliveries held in memory in all (default 2000). */
  maxInMemory?: number
  /**
   * A claimed delivery with no outcome this long is taken again by any process, ms (default 60 000):
   * it covers a wait behind one round of attempts at the 10 s timeout and the attempt itself.
   */
  leaseMs?: number
  /** An endpoint failing this long is disabled, ms (default 3 days). */
  disableAfterMs?: number
  /**
   * Events of customers with no enabled endpoint are dropped without a statement, by a set of the
   * customers with one read every `presenceRefreshMs` (default 1000; ADR 0021). `false`: every
   * event is queued by statement (tests compare).
   */
  endpointPresence?: boolean
  presenceRefreshMs?: number
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
  const limits = createAdaptiveLimits({
    max: opts.perTargetConcurrency ?? DEFAULT_MAX_LIMIT,
    initial: opts.perTargetInitial ?? DEFAULT_PER_TARGET,
    ...(opts.perTargetSlowMs !== undefined ? { slowMs: opts.perTargetSlowMs } : {}),
  })
  // Little is claimed ahead (twice what a target may run): what a dead process had claimed waits out a lease.
  const queueOf = (target: string) => 2 * limits.limit(target)
  const maxInMemory = opts.maxInMemory ?? 2000
  const leaseMs = opts.leaseMs ?? 60_000
  const disableAfterMs = opts.disableAfterMs ?? 3 * 24 * HOUR
  const prefix = opts.durablePrefix ?? 'webhooks'
  const onError = opts.onError ?? stderrReporter('webhooks')
  const queues = new Map<string, TargetQueue>()
  const held = new Set<string>()
  const running = new Set<Promise<void>>()
  const consumers: Consumer[] = []
  let changes: Subscription | undefined
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
  // A customer with no enabled endpoint gets no webhook, not even its callbacks (they are signed
  // with an endpoint's secret): its events cost no statement (ADR 0021). One dropped while an
  // endpoint was being created comes back from the presence set's next read, and is queued then.
  const presence =
    opts.endpointPresence === false
      ? undefined
      : createEndpointPresence<() => EnqueueEvent>({
          db,
          ...(opts.presenceRefreshMs !== undefined ? { refreshMs: opts.presenceRefreshMs } : {}),
          replay: (late) => {
            for (const e of late) void requeue(e(), 0)
          },
          onError,
        })
  async function requeue(e: EnqueueEvent, tries: number): Promise<void> {
    try {
      await enqueuer.submit(e)
    } catch (err) {
      // Acked on the bus already: retried here until it is in (or the process ends).
      onError(err)
      if (stopping) return
      const t = setTimeout(() => void requeue(e, tries + 1), Math.min(30_000, 500 * 2 ** tries))
      t.unref()
    }
  }
  /** Queues the event unless its customer has no endpoint: the event is made only when it is queued. */
  const enqueue = (customerId: string, event: () => EnqueueEvent): Promise<undefined> | undefined =>
    presence?.drop(customerId, event) ? undefined : enqueuer.submit(event())

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
    // A retryable failure says the endpoint is in trouble (or gone); a final answer is an answer.
    if (requested) limits.record(d.target, outcome.kind !== 'retry', outcome.latencyMs)
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
    while (!stopping && q.running < limits.limit(target) && q.items.length > 0) {
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

  let lastWalk = Number.NEGATIVE_INFINITY
  const pass = async () => {
    const free = maxInMemory - held.size
    if (free <= 0 || stopping) return 0
    const room = new Map(
      [...queues].map(([t, q]) => [t, Math.max(0, queueOf(t) - q.items.length - q.running)]),
    )
    // The walk over every target (when some are full) at most every WALK_MS; the due head between.
    const walk = performance.now() - lastWalk >= WALK_MS
    if (walk) lastWalk = performance.now()
    const claimed = await claimDue(db, Math.min(free, 500), room, leaseMs, 2 * limits.initial, { walk })
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

  /**
   * Reports what a payload held that cannot be read (it would be redelivered for ever: dropped);
   * true when nothing of it can, and the message was termed.
   */
  async function unreadable(m: BusMessage<unknown>, readable: number, dropped: number, what: string) {
    if (readable === 0) {
      onError(new Error(`webhooks: unreadable payload on ${m.subject} (${m.id}), dropped`))
      await m.term()
      return true
    }
    if (dropped > 0) onError(new Error(`webhooks: ${dropped} unreadable ${what}(s) in ${m.id}, dropped`))
    return false
  }

  return {
    pass,
    wake: () => loop.wake(),
    async start() {
      stopping = false
      if (presence) {
        // Subscribed first: an endpoint created while the set is read makes it read again.
        changes = await bus.subscribe<{ customerId?: unknown }>(ENDPOINT_CHANGES, (m) =>
          presence.changed(typeof m.data?.customerId === 'string' ? m.data.customerId : undefined),
        )
        await presence.start()
      }
      consumers.push(
        await bus.consume<unknown>({
          durable: `${prefix}-status`,
          subject: STATUS_EVENTS,
          startAt: 'new',
          concurrency: 128,
          handler: async (m) => {
            const { items: events, dropped } = readableItems(m.data, readableStatusEvent, statusEventsOf)
            if (await unreadable(m, events.length, dropped, 'event')) return
            await Promise.all(
              events.map((e) =>
                enqueue(e.customer_id, () => ({
                  customerId: e.customer_id,
                  eventId: statusEventId(e.id, Date.parse(e.created_at)),
                  type: e.type,
                  messageId: e.message_id,
                })),
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
            const { items: jobs, dropped } = readableItems(m.data, readableJob)
            if (await unreadable(m, jobs.length, dropped, 'job')) return
            await Promise.all(
              jobs.map((job) =>
                enqueue(job.customer_id, () => ({
                  customerId: job.customer_id,
                  eventId: queuedEventId(job.id),
                  type: 'message.queued',
                  messageId: job.id,
                  // The job says whether its message has a callback: no message read when not.
                  ...(typeof job.status_callback === 'boolean' ? { callback: job.status_callback } : {}),
                })),
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
      await changes?.stop()
      changes = undefined
      await presence?.stop()
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

const isUuidString = (v: unknown): v is string => typeof v === 'string' && isUuid(v)

function readableStatusEvent(e: unknown): e is StatusEvent {
  const s = e as Partial<StatusEvent> | null
  return isUuidString(s?.customer_id) && isUuidString(s?.message_id) && /^\d+$/.test(String(s?.id))
}

function readableJob(j: unknown): j is DeliveryJob {
  const job = j as Partial<DeliveryJob> | null
  return isUuidString(job?.customer_id) && typeof job?.id === 'string' && uuidV7Time(job.id) !== null
}
