import { BrokenCircuitError } from 'cockatiel'
import { createGroupCommitter } from '../billing/group-commit.ts'
import type { Priority } from '../billing/types.ts'
import type { Bus, BusMessage, Consumer } from '../bus/bus.ts'
import { backoffDelay } from '../carriers/backoff.ts'
import {
  isCarrierError,
  isPermanentCarrierError,
  isThrottledError,
  isUnconfirmedSubmitError,
} from '../carriers/errors.ts'
import type { Db } from '../db/db.ts'
import { type DeliveryJob, LANES, laneDurable, laneSubject } from '../dispatch/lanes.ts'
import { orderRoutes } from '../domain/routing.ts'
import type { StatusWriter } from '../events/status-writer.ts'
import { stderrReporter } from '../observability/reporter.ts'
import {
  type ClaimResult,
  claimDelivery,
  claimNew,
  extendLease,
  markFinal,
  markSubmittedMany,
  markSubmitting,
  type Submitted,
  unmarkSubmitting,
} from './claims.ts'
import type { Provider } from './providers.ts'

export interface WorkerOptions {
  db: Db
  bus: Bus
  providers: Provider[]
  statuses: StatusWriter
  /** Submit attempts per message across providers before it is dead-lettered (default 5). */
  maxAttempts?: number
  /** Throttled answers waited out (backoff, not counted as attempts) before they count (default 60). */
  maxThrottleWaits?: number
  /** First retry delay, ms; doubles per attempt with jitter, capped at maxBackoffMs (defaults 200 / 5000). */
  baseBackoffMs?: number
  maxBackoffMs?: number
  /** Handlers per lane (defaults otp 32, high 32, normal 64, bulk 32). */
  concurrency?: Partial<Record<Priority, number>>
  /** How long a claim protects a message from a second worker, ms (default 60 000). */
  leaseMs?: number
  onSubmitted?: (provider: string, ms: number) => void
  onSubmitError?: (provider: string, kind: string) => void
  onDeadLetter?: (lane: Priority, status: string) => void
  /** Carrier ids just recorded as submitted (after their commit): receipts parked for them can now match. */
  onRecorded?: (refs: { carrier: string; carrierId: string }[]) => void
  /** A failure outside a message's own outcome (a status write, a bus error). Default: written to stderr. */
  onError?: (err: unknown) => void
}

export interface Worker {
  start(): Promise<void>
  /** Stops taking work and waits for in-flight messages. */
  stop(): Promise<void>
  /** Handles one job (exposed for tests). */
  handle(m: BusMessage<DeliveryJob>): Promise<void>
}

/** Our claim was taken over (lease ran out while we waited): the other worker owns the message now. */
class LostClaimError extends Error {}

const ACK_WAIT_MS = 15_000
const DEFAULT_CONCURRENCY: Record<Priority, number> = { otp: 64, high: 64, normal: 256, bulk: 128 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Takes delivery jobs from the lanes, claims each (de-dup), submits it to a provider chosen by
 * route and weight, retries transient failures with exponential backoff and jitter while
 * failing over to the next provider, and dead-letters what cannot be delivered with a final
 * status (refunded when no carrier took it).
 */
export function createWorker(opts: WorkerOptions): Worker {
  const maxAttempts = opts.maxAttempts ?? 5
  const maxThrottleWaits = opts.maxThrottleWaits ?? 60
  const leaseMs = opts.leaseMs ?? 60_000
  const onError = opts.onError ?? stderrReporter('worker')
  const byName = new Map(opts.providers.map((p) => [p.name, p]))
  const consumers: Consumer[] = []
  // The submitting marks of many concurrent jobs commit together, each right before its send.
  const submitting = createGroupCommitter<{ id: string; attempt: number }, boolean>({
    maxBatch: 500,
    concurrency: 2,
    run: async (claims) => {
      const held = await markSubmitting(opts.db, claims)
      return claims.map((c) => held.has(c.id))
    },
  })
  // Claims of concurrent jobs are made together; a job the batch could not claim (a redelivery,
  // a live lease elsewhere, a second copy in this very group) learns why on its own.
  const claims = createGroupCommitter<DeliveryJob, number | undefined>({
    maxBatch: 500,
    concurrency: 2,
    run: async (jobs) => {
      const claimed = await claimNew(opts.db, jobs, leaseMs)
      return jobs.map((j) => {
        const attempt = claimed.get(j.id)
        claimed.delete(j.id)
        return attempt
      })
    },
  })
  const claimJob = async (job: DeliveryJob): Promise<ClaimResult> => {
    const attempt = await claims.submit(job)
    return attempt === undefined ? claimDelivery(opts.db, job, leaseMs) : { kind: 'claimed', attempt }
  }
  const submitted = createGroupCommitter<Submitted, undefined>({
    maxBatch: 500,
    concurrency: 2,
    run: async (items) => {
      await markSubmittedMany(opts.db, items)
      opts.onRecorded?.(
        items.flatMap((i) => i.carrierIds.map((carrierId) => ({ carrier: i.carrier, carrierId }))),
      )
      return items.map(() => undefined)
    },
  })

  const finish = async (
    job: DeliveryJob,
    status: 'failed' | 'rejected' | 'expired',
    reason: string,
    lane: Priority,
    /** Parts a carrier took before the rest failed: then no refund. */
    partial?: { carrier: string; parts: number },
  ) => {
    if (status !== 'expired') {
      await opts.bus.publish(`sms.dead.${lane}`, { job, status, reason }, { msgId: `dead-${job.id}` })
      opts.onDeadLetter?.(lane, status)
    }
    await opts.statuses.write({
      messageId: job.id,
      createdAt: job.created_at,
      status,
      unsent: !partial,
      detail: partial ? { reason, carrier: partial.carrier, parts_accepted: partial.parts } : { reason },
    })
    await markFinal(opts.db, job.id)
  }

  /**
   * The submit was written and never answered: the carrier may have it, so it is not sent again.
   * It ends `unknown`, charged; parts the carrier confirmed are recorded for their receipts.
   */
  const endUnconfirmed = async (job: DeliveryJob, carrier: string, why: string, taken: string[]) => {
    if (taken.length > 0) await submitted.submit({ job, carrier, carrierIds: taken, parts: job.segments })
    await opts.statuses.write({
      messageId: job.id,
      createdAt: job.created_at,
      status: 'unknown',
      detail: {
        reason: `${carrier}: ${why}; the carrier may have the message, so it is not sent again`,
        carrier,
      },
    })
    await markFinal(opts.db, job.id)
  }

  async function handle(m: BusMessage<DeliveryJob>): Promise<void> {
    const job = m.data
    const lane = job.priority
    const claim = await claimJob(job)
    if (claim.kind === 'ambiguous') {
      // Not refunded: the carrier may have delivered it.
      await opts.statuses.write({
        messageId: job.id,
        createdAt: job.created_at,
        status: 'unknown',
        detail: {
          reason:
            'a worker stopped while submitting; the carrier may have the message, so it is not sent again',
        },
      })
      return m.ack()
    }
    if (claim.kind === 'done') {
      // A worker died after the carrier took the message but before its `sent` was written.
      if (claim.submitted)
        await opts.statuses.write({ messageId: job.id, createdAt: job.created_at, status: 'sent' })
      return m.ack()
    }
    if (claim.kind === 'busy') return m.nak(claim.retryInMs)
    // Only a claim proves no carrier has it: a redelivery of a submitted message is never
    // expired (nor refunded) here, however late it comes.
    if (Date.parse(job.expires_at) <= Date.now()) {
      await finish(job, 'expired', 'validity period ended before submission', lane)
      return m.ack()
    }
    // Not awaited: the writer applies changes in order, so `sent` (awaited below) commits after it.
    void opts.statuses
      .write({ messageId: job.id, createdAt: job.created_at, status: 'sending' })
      .catch(onError)

    let lastError = 'no provider serves this destination'
    // Each try goes to the next route; a throttled try is waited out without spending an attempt.
    let hop = 0
    let throttleWaits = 0
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const routes = orderRoutes(
        opts.providers.map((p) => p.candidate()),
        job.to,
        job.country,
      )
      const name = routes[hop++ % Math.max(1, routes.length)]
      const provider = name ? byName.get(name) : undefined
      if (!provider) break
      try {
        // Priority order from here on: an otp job waiting for this provider goes before bulk.
        const release = await provider.gate.acquire(lane)
        const started = performance.now()
        const carrier = provider.carrier
        const request = {
          messageId: job.id,
          to: job.to,
          from: job.from,
          body: job.body,
          encoding: job.encoding,
          parts: job.segments,
          validityPeriodS: Math.max(1, Math.floor((Date.parse(job.expires_at) - Date.now()) / 1000)),
          registeredDelivery: true,
        }
        // Committed as late as the carrier allows (after its window wait, right before the
        // write), so a crash leaves `submitting` only on messages that may have gone out.
        const mark = async () => {
          if (!(await submitting.submit({ id: job.id, attempt: claim.attempt }))) throw new LostClaimError()
        }
        const result = await provider.breaker
          .execute(async () => {
            await provider.throttle()
            if (!carrier.callsBeforeWrite) await mark()
            try {
              return await carrier.submit(request, carrier.callsBeforeWrite ? { beforeWrite: mark } : {})
            } catch (err) {
              // An answer from the carrier, or a submit that provably never left us, means it did
              // not take the message — unless it took some of its parts.
              if (
                isCarrierError(err) &&
                (err.carrierStatus !== undefined || err.unsent) &&
                err.acceptedCarrierIds.length === 0
              )
                await unmarkSubmitting(opts.db, job.id)
              throw err
            }
          })
          .finally(release)
        opts.onSubmitted?.(provider.name, performance.now() - started)
        await submitted.submit({ job, carrier: provider.name, carrierIds: result.carrierIds })
        await opts.statuses.write({
          messageId: job.id,
          createdAt: job.created_at,
          status: 'sent',
          detail: { carrier: provider.name, parts: result.carrierIds.length },
        })
        return m.ack()
      } catch (err) {
        if (err instanceof LostClaimError) return m.ack()
        if (isUnconfirmedSubmitError(err)) {
          opts.onSubmitError?.(provider.name, err.kind)
          await endUnconfirmed(job, provider.name, err.message, err.acceptedCarrierIds)
          return m.ack()
        }
        if (isCarrierError(err) && err.acceptedCarrierIds.length > 0) {
          // The carrier holds part of the message: sending it again would duplicate those parts,
          // so it ends failed (not refunded), with the parts it took recorded.
          const taken = err.acceptedCarrierIds
          await submitted.submit({ job, carrier: provider.name, carrierIds: taken, parts: job.segments })
          const reason = `${provider.name} took ${taken.length} of ${job.segments} parts, then: ${err.message}`
          await finish(job, 'failed', reason, lane, { carrier: provider.name, parts: taken.length })
          return m.ack()
        }
        opts.onSubmitError?.(
          provider.name,
          err instanceof BrokenCircuitError ? 'circuit_open' : isCarrierError(err) ? err.kind : 'other',
        )
        if (isPermanentCarrierError(err)) {
          await finish(job, 'rejected', `${provider.name}: ${err.message}`, lane)
          return m.ack()
        }
        if (!isCarrierError(err) && !(err instanceof BrokenCircuitError)) throw err
        lastError = `${provider.name}: ${(err as Error).message}`
        // A carrier asking us to slow down is not failing the message: it waits (bounded by the
        // validity period and maxThrottleWaits) instead of being failed after a few quick tries.
        if (
          isThrottledError(err) &&
          throttleWaits < maxThrottleWaits &&
          Date.parse(job.expires_at) > Date.now()
        ) {
          throttleWaits++
          attempt--
          await sleep(
            backoffDelay(Math.min(throttleWaits, 8), {
              initialMs: opts.baseBackoffMs ?? 200,
              maxMs: opts.maxBackoffMs ?? 5000,
            }),
          )
          await Promise.all([m.inProgress(), extendLease(opts.db, job.id, leaseMs)])
          continue
        }
        if (attempt + 1 < maxAttempts) {
          await sleep(
            backoffDelay(attempt + 1, {
              initialMs: opts.baseBackoffMs ?? 200,
              maxMs: opts.maxBackoffMs ?? 5000,
            }),
          )
          await Promise.all([m.inProgress(), extendLease(opts.db, job.id, leaseMs)])
        }
      }
    }
    await finish(job, 'failed', `retries exhausted: ${lastError}`, lane)
    return m.ack()
  }

  return {
    handle,
    async start() {
      for (const lane of LANES) {
        consumers.push(
          await opts.bus.consume<DeliveryJob>({
            durable: laneDurable(lane),
            subject: laneSubject(lane),
            concurrency: opts.concurrency?.[lane] ?? DEFAULT_CONCURRENCY[lane],
            // Short, so the jobs of a killed worker come back soon; a running job keeps its own
            // alive by telling the broker it is still working.
            ackWaitMs: ACK_WAIT_MS,
            handler: async (m) => {
              const alive = setInterval(() => void m.inProgress().catch(() => {}), ACK_WAIT_MS / 3)
              try {
                await handle(m)
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
