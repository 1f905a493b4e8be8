import { BrokenCircuitError, CircuitState } from 'cockatiel'
import { handleBatchItems } from '../bus/batch.ts'
import type { Bus, BusMessage, Consumer } from '../bus/bus.ts'
import { laneDurable, laneSubject } from '../bus/subjects.ts'
import {
  isCarrierError,
  isPermanentCarrierError,
  isThrottledError,
  isUnconfirmedSubmitError,
} from '../carriers/errors.ts'
import type { Db } from '../db/db.ts'
import { backoffDelay } from '../domain/backoff.ts'
import type { Priority } from '../domain/message.ts'
import { type DeliveryJob, LANES } from '../domain/message.ts'
import { orderRoutes } from '../domain/routing.ts'
import type { StatusChange, StatusWriter } from '../events/status-writer.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { stderrReporter } from '../observability/reporter.ts'
import { TRACING_OFF, type Tracing } from '../observability/tracing.ts'
import type { CarrierLink } from './carrier-links.ts'
import { createClaimer } from './claimer.ts'
import { type ClaimResult, extendLease, markSubmittedMany, type Submitted } from './claims.ts'
import { createFairLimit } from './fair-queue.ts'
import { createOutcomes } from './outcomes.ts'
import type { PendingRefs } from './pending-refs.ts'
import { createSubmitOnce, type Held, LostClaimError, UnclaimedError } from './submit-once.ts'

export interface WorkerOptions {
  db: Db
  bus: Bus
  links: CarrierLink[]
  statuses: StatusWriter
  /** Submit attempts per message across links before it is dead-lettered (default 5). */
  maxAttempts?: number
  /** Throttled answers waited out (backoff, not counted as attempts) before they count (default 60). */
  maxThrottleWaits?: number
  /** First retry delay, ms; doubles per attempt with jitter, capped at maxBackoffMs (defaults 200 / 5000). */
  baseBackoffMs?: number
  maxBackoffMs?: number
  /** Handlers per lane (defaults otp 64, high 64, normal 256, bulk 128). */
  concurrency?: Partial<Record<Priority, number>>
  /** How long a claim protects a message from a second worker, ms (default 60 000). */
  leaseMs?: number
  onSubmitted?: (carrier: string, ms: number) => void
  onSubmitError?: (carrier: string, kind: string) => void
  onDeadLetter?: (lane: Priority, status: string) => void
  /** Carrier ids being recorded: receipts for them wait for the commit instead of being parked. */
  pendingRefs?: PendingRefs
  /** Carrier ids just recorded as submitted (after their commit): receipts parked for them can now match. */
  onRecorded?: (refs: { carrier: string; carrierId: string }[]) => void
  /** A failure outside a message's own outcome (a status write, a bus error). Default: written to stderr. */
  onError?: (err: unknown) => void
  /** Spans of each delivery and carrier submit (ADR 16); default off. */
  tracing?: Tracing
}

export interface Worker {
  start(): Promise<void>
  /** Stops taking work and waits for in-flight messages. */
  stop(): Promise<void>
  /** Handles one job (exposed for tests). */
  handle(m: BusMessage<DeliveryJob>): Promise<void>
}

const ACK_WAIT_MS = 15_000
/** A submit still waiting for its carrier this long writes `sending` on its own. */
const SENDING_ALONE_AFTER_MS = 500
const DEFAULT_CONCURRENCY: Record<Priority, number> = { otp: 64, high: 64, normal: 256, bulk: 128 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Takes delivery jobs from the lanes, claims each (de-dup), submits it to a link chosen by
 * route and weight, retries transient failures with exponential backoff and jitter while
 * failing over to the next link, and dead-letters what cannot be delivered with a final
 * status (refunded when no carrier took it).
 */
export function createWorker(opts: WorkerOptions): Worker {
  const maxAttempts = opts.maxAttempts ?? 5
  const maxThrottleWaits = opts.maxThrottleWaits ?? 60
  const leaseMs = opts.leaseMs ?? 60_000
  const onError = opts.onError ?? stderrReporter('worker')
  const tracing = opts.tracing ?? TRACING_OFF
  const linkByName = new Map(opts.links.map((p) => [p.name, p]))
  const consumers: Consumer[] = []
  // Claims and submitting marks of many concurrent jobs commit together, each mark right before its send.
  const claimer = createClaimer(opts.db, leaseMs)
  const submitTo = createSubmitOnce({
    db: opts.db,
    claimer,
    tracing,
    ...(opts.onSubmitted ? { onSubmitted: opts.onSubmitted } : {}),
  })
  // The carriers' part ids and, on the happy path, the `sent` status they prove: one transaction
  // for both (one commit, and `sent` is durable exactly when the receipts can match).
  const submitted = createGroupCommitter<{ item: Submitted; changes?: StatusChange[] }, undefined>({
    maxBatch: 500,
    concurrency: 2,
    run: async (entries) => {
      const items = entries.map((e) => e.item)
      await opts.statuses.transaction(async (tx) => {
        await markSubmittedMany(tx, items)
        return { result: undefined, changes: entries.flatMap((e) => e.changes ?? []) }
      })
      opts.onRecorded?.(
        items.flatMap((i) => i.carrierIds.map((carrierId) => ({ carrier: i.carrier, carrierId }))),
      )
      return entries.map(() => undefined)
    },
  })

  const outcomes = createOutcomes({
    db: opts.db,
    bus: opts.bus,
    statuses: opts.statuses,
    recordParts: (job, carrier, carrierIds) =>
      submitted.submit({
        item: {
          job,
          carrier,
          carrierIds,
          parts: job.segments,
          traceParent: tracing.submitTraceParent(job.id),
        },
      }),
    ...(opts.onDeadLetter ? { onDeadLetter: opts.onDeadLetter } : {}),
  })
  const backoff = { initialMs: opts.baseBackoffMs ?? 200, maxMs: opts.maxBackoffMs ?? 5000 }

  /** The link of this try: the routes for the destination in order, one further per try. */
  const linkFor = (job: DeliveryJob, hop: number): CarrierLink | undefined => {
    const routes = orderRoutes(
      opts.links.map((p) => p.candidate()),
      job.to,
      job.country,
    )
    const name = routes[hop % Math.max(1, routes.length)]
    return name ? linkByName.get(name) : undefined
  }

  /**
   * What a failed try means: `done` when the message has its outcome (ended here or owned by
   * another worker), else `retry` or `throttled` with the reason. Anything that is not a carrier
   * answer or an open circuit is a bug and is thrown.
   */
  async function afterFailure(
    err: unknown,
    job: DeliveryJob,
    link: CarrierLink,
  ): Promise<{ kind: 'done' } | { kind: 'retry' | 'throttled'; reason: string }> {
    if (err instanceof LostClaimError) return { kind: 'done' }
    if (isUnconfirmedSubmitError(err)) {
      opts.onSubmitError?.(link.name, err.kind)
      await outcomes.unconfirmed(job, link.name, err.message, err.acceptedCarrierIds)
      return { kind: 'done' }
    }
    if (isCarrierError(err) && err.acceptedCarrierIds.length > 0) {
      await outcomes.partlyTaken(job, link.name, err.acceptedCarrierIds, err.message)
      return { kind: 'done' }
    }
    opts.onSubmitError?.(
      link.name,
      err instanceof BrokenCircuitError ? 'circuit_open' : isCarrierError(err) ? err.kind : 'other',
    )
    if (isPermanentCarrierError(err)) {
      await outcomes.finish(job, 'rejected', `${link.name}: ${err.message}`)
      return { kind: 'done' }
    }
    if (!isCarrierError(err) && !(err instanceof BrokenCircuitError)) throw err
    const reason = `${link.name}: ${(err as Error).message}`
    return { kind: isThrottledError(err) ? 'throttled' : 'retry', reason }
  }

  /** Waits before the next try, keeping the job alive on the bus and the claim's lease meanwhile. */
  const pause = async (m: BusMessage<DeliveryJob>, n: number) => {
    await sleep(backoffDelay(n, backoff))
    await Promise.all([m.inProgress(), extendLease(opts.db, m.data.id, leaseMs)])
  }

  /**
   * Makes sure the handler holds a claim before anything but a submit happens to the job: only a
   * claim proves no other worker (so no carrier) has the message. False once the job is settled
   * as the claim's answer says instead (nak'ed while another worker holds it, else acked).
   */
  async function claimBeforeOutcome(
    m: BusMessage<DeliveryJob>,
    held: Held,
    claim: (job: DeliveryJob) => Promise<ClaimResult>,
  ): Promise<boolean> {
    if (held.attempt !== undefined) return true
    const c = await claim(m.data)
    if (c.kind === 'claimed') {
      held.attempt = c.attempt
      return true
    }
    if (c.kind === 'busy') await m.nak(c.retryInMs)
    else {
      await outcomes.unclaimed(m.data, c)
      await m.ack()
    }
    return false
  }

  async function handle(m: BusMessage<DeliveryJob>): Promise<void> {
    const job = m.data
    const held: Held = {}
    const expired = () => Date.parse(job.expires_at) <= Date.now()
    // A job's first delivery is claimed by its first try's submitting mark, right before the write
    // (one deliveries write fewer: ADR 0008 amendment of 2026-12-07). A redelivery is what a claim
    // most often turns away (submitted, held elsewhere, ambiguous) and an expired job must be
    // claimed before it is finished: both are claimed first, as before, so they never wait for a
    // carrier's window (nor take a throttle token) only to learn that.
    if (m.deliveryCount > 1 || expired()) {
      if (!(await claimBeforeOutcome(m, held, claimer.claim))) return
      // Only a claim proves no carrier has it: a redelivery of a submitted message is never
      // expired (nor refunded) here, however late it comes.
      if (expired()) {
        await outcomes.finish(job, 'expired', 'validity period ended before submission')
        return m.ack()
      }
    }
    // `sending` rides with `sent` in the transaction of the submitted mark when the carrier answers
    // at once (one messages update and one commit fewer per message); a submit that waits (window,
    // throttle, retries) shows `sending` on its own after SENDING_ALONE_AFTER_MS, and a failed try
    // writes it at once, before any outcome. Both may happen: whichever commits second finds the
    // status already there and drops its copy, so the event is written once.
    const sending: StatusChange = { messageId: job.id, createdAt: job.created_at, status: 'sending' }
    let sendingAlone: Promise<void> | undefined
    const writeSending = () => {
      sendingAlone ??= opts.statuses.write(sending).catch(onError)
    }
    const sendingTimer = setTimeout(writeSending, SENDING_ALONE_AFTER_MS)
    try {
      return await submitWithRetries(m, held, sending, writeSending)
    } finally {
      clearTimeout(sendingTimer)
    }
  }

  async function submitWithRetries(
    m: BusMessage<DeliveryJob>,
    held: Held,
    sending: StatusChange,
    writeSending: () => void,
  ): Promise<void> {
    const job = m.data

    let lastError = 'no link serves this destination'
    // Each try goes to the next route; a throttled try is waited out without spending an attempt
    // (bounded by the validity period and maxThrottleWaits).
    let throttleWaits = 0
    for (let attempt = 0, hop = 0; attempt < maxAttempts; hop++) {
      const link = linkFor(job, hop)
      if (!link) break
      // A circuit's trial submit must test the carrier, and cockatiel ends a trial that throws an
      // error it does not count (a claim turned away at the mark) as a success, closing the circuit:
      // so with a circuit not closed, the claim comes first.
      if (link.breaker.state !== CircuitState.Closed && !(await claimBeforeOutcome(m, held, claimer.claim)))
        return
      try {
        const result = await submitTo(link, job, held)
        const recorded = submitted.submit({
          item: {
            job,
            carrier: link.name,
            carrierIds: result.carrierIds,
            traceParent: tracing.submitTraceParent(job.id),
          },
          changes: [
            sending,
            {
              messageId: job.id,
              createdAt: job.created_at,
              status: 'sent',
              detail: { carrier: link.name, parts: result.carrierIds.length },
            },
          ],
        })
        opts.pendingRefs?.track(link.name, result.carrierIds, recorded)
        await recorded
        return m.ack()
      } catch (err) {
        if (err instanceof UnclaimedError) {
          if (!(await claimBeforeOutcome(m, held, claimer.why))) return
          // Claimed after all (a lease ran out meanwhile); nothing was tried: the same link again.
          hop--
          continue
        }
        // A try that failed before its mark holds no claim yet.
        if (!(await claimBeforeOutcome(m, held, claimer.claim))) return
        writeSending()
        const next = await afterFailure(err, job, link)
        if (next.kind === 'done') return m.ack()
        lastError = next.reason
        if (
          next.kind === 'throttled' &&
          throttleWaits < maxThrottleWaits &&
          Date.parse(job.expires_at) > Date.now()
        ) {
          throttleWaits++
          await pause(m, Math.min(throttleWaits, 8))
          continue
        }
        attempt++
        if (attempt < maxAttempts) await pause(m, attempt)
      }
    }
    if (!(await claimBeforeOutcome(m, held, claimer.claim))) return
    writeSending()
    await outcomes.finish(job, 'failed', `retries exhausted: ${lastError}`)
    return m.ack()
  }

  return {
    handle,
    async start() {
      for (const lane of LANES) {
        const concurrency = opts.concurrency?.[lane] ?? DEFAULT_CONCURRENCY[lane]
        // Jobs arrive in batches (the dispatcher's); the lane's limit counts jobs, across batches,
        // and its waiting jobs are served by customer, least lately served first: a small
        // customer's job (or a campaign's, beside running floods) does not wait behind a flood
        // (issue 12, ADR 6).
        const limit = createFairLimit(concurrency)
        consumers.push(
          await opts.bus.consume<unknown>({
            durable: laneDurable(lane),
            subject: laneSubject(lane),
            concurrency,
            // Short, so the jobs of a killed worker come back soon; a running batch keeps itself
            // alive by telling the broker it is still working.
            ackWaitMs: ACK_WAIT_MS,
            handler: async (m) => {
              const alive = setInterval(() => void m.inProgress().catch(() => {}), ACK_WAIT_MS / 3)
              try {
                await handleBatchItems<DeliveryJob>(
                  m,
                  (item) =>
                    limit.run(item.data.customer_id, () =>
                      tracing.workerStarted(item, lane).around(handle(item)),
                    ),
                  { onError },
                )
              } finally {
                clearInterval(alive)
              }
            },
          }),
        )
      }
    },
    async stop() {
      await Promise.all(consumers.splice(0).map((c) => c.stop()))
    },
  }
}
