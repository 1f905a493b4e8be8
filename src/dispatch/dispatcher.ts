import { type BusBatch, batchMsgId } from '../bus/batch.ts'
import type { Bus } from '../bus/bus.ts'
import { laneDurable, laneSubject } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import { type Backlogged, createUsage, fairShare, interleave, type Usage } from '../domain/fair-share.ts'
import { type DeliveryJob, LANES, type NewMessage, type Priority } from '../domain/message.ts'
import { type Bucket, takeToken } from '../domain/token-bucket.ts'
import { createPollLoop } from '../lib/poll-loop.ts'
import { stderrReporter } from '../observability/reporter.ts'
import { TRACING_OFF, type Tracing } from '../observability/tracing.ts'
import { createHandoff } from './handoff.ts'
import { backlogByCustomer, claimOutbox, jobsOf, OutboxMessageGoneError } from './outbox-claims.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Default bulk window: four times the worker's bulk handlers (128), enough to keep them busy. */
const BULK_WINDOW = 512

export interface DispatcherOptions {
  db: Db
  bus: Bus
  /** Most messages of one lane on the bus (published, not yet settled by a worker). Default 2000. */
  window?: number
  /**
   * The window of a lane where it differs from `window`. Default: bulk min(window, 512) — the lane
   * floods go to; a shallow window lets the fair share reach the worker in seconds (issue 12).
   */
  laneWindows?: Partial<Record<Priority, number>>
  /**
   * Half-life of what a customer was released lately, ms: the fair share fills the customers given
   * least lately first (see fairShare). Default 30 000.
   */
  usageHalfLifeMs?: number
  /** Most messages released per lane per pass. Default 1000. */
  maxPerPass?: number
  /** Jobs per bus message at most (a pass's jobs of a lane travel in batches). Default 64. */
  jobBatch?: number
  /** First wait after a pass that found nothing to do, ms; doubles while idle up to maxIdleMs. Default 10. */
  idleMs?: number
  /** Longest wait while idle, ms (an accept in this process wakes it at once). Default 200. */
  maxIdleMs?: number
  /** Wait before a pass that found a lane's window full (and released nothing) looks again, ms. Default 50. */
  fullWaitMs?: number
  onDispatched?: (lane: Priority, n: number) => void
  /** A failed pass (it is retried). Default: written to stderr. */
  onError?: (err: unknown) => void
  /** A span per published job, its context in the job's bus headers (ADR 16); default off. */
  tracing?: Tracing
  /** Most jobs handed over by an accept path in this process kept for release (see handoff()). Default 50 000. */
  handoffCapacity?: number
}

export interface Dispatcher {
  /** Runs one pass over every lane; returns how many messages it released. */
  pass(): Promise<number>
  /** Starts the loop (passes back to back while there is work, else every idleMs). */
  start(): void
  /** Wakes an idle loop at once (after an accept in this process). */
  wake(): void
  /**
   * Messages an accept in this process has just committed: their jobs are kept in memory (at
   * most handoffCapacity, oldest dropped first), so releasing them does not read `messages`.
   * What is released, and when, is still decided from the outbox (ADR 6).
   */
  handoff(messages: readonly NewMessage[]): void
  stop(): Promise<void>
}

/**
 * Outbox → bus. Fairness is decided here: each lane gets credits (window minus what the
 * workers have not yet settled), lanes in priority order; within a lane the credits are split
 * across customers with backlog (fairShare: those released least lately first), each customer
 * capped by its own rate. A flooding customer's backlog therefore waits in PostgreSQL, not on the
 * bus in front of everyone else.
 */
export function createDispatcher(opts: DispatcherOptions): Dispatcher {
  const window = opts.window ?? 2000
  const windowOf = (lane: Priority) =>
    opts.laneWindows?.[lane] ?? (lane === 'bulk' ? Math.min(window, BULK_WINDOW) : window)
  const halfLifeMs = opts.usageHalfLifeMs ?? 30_000
  const usage = new Map<Priority, Usage>(LANES.map((lane) => [lane, createUsage(halfLifeMs)]))
  const maxPerPass = opts.maxPerPass ?? 1000
  const onError = opts.onError ?? stderrReporter('dispatcher')
  const tracing = opts.tracing ?? TRACING_OFF
  const buckets = new Map<string, Bucket>()
  const rotation = new Map<Priority, string | undefined>()
  const jobBatch = opts.jobBatch ?? 64
  const fullWaitMs = opts.fullWaitMs ?? 50
  /** Jobs per bus message lately, per lane (a moving average). */
  const batchSize = new Map<Priority, number>()
  const handoff = createHandoff(opts.handoffCapacity)

  /** Tokens a customer may release now, without spending them. */
  const available = (customerId: string, rate: number, now: number) => {
    const b = buckets.get(customerId)
    if (!b) return rate
    return Math.floor(Math.min(rate, b.tokens + ((now - b.updatedAt) * rate) / 1000))
  }
  const spend = (customerId: string, rate: number, n: number, now: number) => {
    // One refill, then n tokens taken (never below empty), instead of n single takes.
    const { bucket } = takeToken(buckets.get(customerId), now, rate, rate)
    buckets.set(customerId, { ...bucket, tokens: Math.max(0, bucket.tokens - (n - 1)) })
  }

  /** One lane: released messages, and `full` when its window left no credits (work may be waiting). */
  async function passLane(lane: Priority): Promise<{ released: number; full: boolean }> {
    // The bus counts batches: the jobs they hold are estimated from the recent batch size.
    const onBus = Math.ceil((await opts.bus.pending(laneDurable(lane))) * (batchSize.get(lane) ?? 1))
    const credits = Math.min(maxPerPass, windowOf(lane) - onBus)
    if (credits <= 0) return { released: 0, full: true }
    return { released: await releaseLane(lane, credits), full: false }
  }

  async function releaseLane(lane: Priority, credits: number): Promise<number> {
    const backlog = await backlogByCustomer(opts.db, lane, credits)
    if (backlog.length === 0) return 0
    const now = Date.now()
    const rates = new Map(backlog.map((b) => [b.customer_id, b.rate_limit_mps]))
    const used = usage.get(lane)
    const candidates: Backlogged[] = backlog.map((b) => ({
      id: b.customer_id,
      backlog: b.backlog,
      cap: available(b.customer_id, b.rate_limit_mps, now),
      used: used?.get(b.customer_id, now) ?? 0,
    }))
    const { take, next } = fairShare(candidates, credits, rotation.get(lane))
    rotation.set(lane, next)
    if (take.size === 0) return 0
    const { released, gone, ids } = await opts.db.transaction(async (tx) => {
      // One statement locks and deletes the rows; the delete commits only after the publish.
      const rows = await claimOutbox(tx, lane, take)
      const { jobs: claimed, gone } = await jobsOf(tx, lane, rows, handoff.get)
      const ordered = interleave(claimed)
      const ids = rows.map((r) => r.message_id)
      if (ordered.length === 0) return { released: 0, gone, ids }
      // Publish in fair order, jobBatch jobs per bus message; the msgId lets the broker drop a
      // re-publish after a crash here.
      const publishes: Promise<unknown>[] = []
      for (let i = 0; i < ordered.length; i += jobBatch) {
        const chunk = ordered.slice(i, i + jobBatch)
        const spans = chunk.map((c) => tracing.dispatchStarted(c.job.id, lane, c.traceParent))
        const headers = spans.map((span) => span.inject({}).headers ?? null)
        const batch: BusBatch<DeliveryJob> = {
          items: chunk.map((c) => c.job),
          ...(headers.some((h) => h && Object.keys(h).length > 0) ? { headers } : {}),
        }
        const first = chunk[0]?.job.id ?? ''
        const published = opts.bus.publish(laneSubject(lane), batch, {
          msgId: batchMsgId(first, chunk.at(-1)?.job.id ?? first, chunk.length),
        })
        publishes.push(...spans.map((span) => span.around(published)))
      }
      await Promise.all(publishes)
      const chunks = Math.ceil(ordered.length / jobBatch)
      batchSize.set(lane, ((batchSize.get(lane) ?? 1) + ordered.length / chunks) / 2)
      for (const list of claimed) {
        const first = list[0]
        if (!first) continue
        spend(first.job.customer_id, rates.get(first.job.customer_id) ?? 1, list.length, now)
        used?.add(first.job.customer_id, list.length, now)
      }
      return { released: ordered.length, gone, ids }
    })
    // Committed: the rows are gone from the outbox, so their jobs are not needed again.
    handoff.remove(ids)
    if (gone.length > 0) onError(new OutboxMessageGoneError(gone))
    if (released > 0) opts.onDispatched?.(lane, released)
    return released
  }

  /** One pass over every lane in priority order: how many it released, and whether a window was full. */
  const passLanes = async () => {
    // One cheap look first: an idle gateway should not run four lanes of queries per tick.
    const { rows } = await opts.db.query<{ due: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM outbox WHERE available_at <= now()) AS due',
    )
    let released = 0
    let full = false
    if (!rows[0]?.due) return { released, full }
    for (const lane of LANES) {
      const r = await passLane(lane)
      released += r.released
      full ||= r.full
    }
    return { released, full }
  }

  // A lane whose window is full has work waiting: look again after fullWaitMs instead of backing
  // off to maxIdleMs (issue 12), so the credits settled batches free go at once to the customers
  // waiting in PostgreSQL (a small one behind a flood gets its share of them).
  const loop = createPollLoop({
    pass: async () => {
      const { released, full } = await passLanes()
      if (released > 0 || !full) return released
      await sleep(fullWaitMs)
      return 1 // not idle
    },
    idleMs: opts.idleMs ?? 10,
    maxIdleMs: opts.maxIdleMs ?? 200,
    onError,
  })
  return {
    pass: async () => (await passLanes()).released,
    start: loop.start,
    wake: loop.wake,
    handoff: handoff.put,
    stop: loop.stop,
  }
}
