// Turns the raw run (schedule, answers, final statuses) into the figures, series and
// distributions of the sim report. Pure: the unit tests feed it made-up runs.

import { isFinalStatus } from '../../src/domain/status.ts'
import { BODY_KINDS, PRIORITIES, type Priority } from './bodies.ts'
import { COUNTRIES } from './destinations.ts'
import type { DriveResult } from './driver.ts'
import { floodActive, isWhale, type Schedule, type TrafficPlan } from './model.ts'
import type { Outcome } from './outcomes.ts'
import { meanRate, type Percentiles, percentiles, SecondBuckets } from './stats.ts'

export interface Analysis {
  totals: {
    offered: number
    /** Offered minus those dropped here for too many unanswered requests. */
    sent: number
    accepted: number
    delivered: number
    /** Accepted messages whose status is final but not delivered, by status. */
    otherFinal: Record<string, number>
    /** Accepted messages still short of a final status when the drain wait ended. */
    notFinal: number
    /** Accepted (2xx seen here) but not found where final statuses were read. */
    missing: number
  }
  throughput: {
    offeredPerSec: number
    acceptedPerSec: number
    /** Delivered during the load window, per second of it. */
    deliveredPerSecDuringLoad: number
    /** All delivered over the span from time 0 to the last delivery (e2e's figure). */
    deliveredPerSecOverall: number
    peakOfferedPerSec: number
    peakAccepted10sPerSec: number
    peakDelivered10sPerSec: number
  }
  acceptLatencyMs: Percentiles
  /** Accept (client side, at the 2xx) → delivered, minus the simulator's receipt delay. */
  deliveryLatencyMs: {
    all: Percentiles
    byPriority: Record<Priority, Percentiles>
    small: Percentiles
    smallDuringFloods: Percentiles
    smallOutsideFloods: Percentiles
    smallBulkDuringFloods: Percentiles
    whales: Percentiles
  }
  /**
   * Where the delivery latency went, by stage (from the run's database; empty with --target):
   * accept commit → worker claim (outbox, dispatcher, bus, worker lane), claim → `sent` (carrier
   * window, throttle, submit), `sent` → delivered minus the receipt delay (receipt handling).
   */
  stagesMs: { smallDuringFloods: StageLatencies; whales: StageLatencies }
  generatorLagMs: Percentiles
  mix: {
    byPriority: Record<string, number>
    byKind: Record<string, number>
    byCountry: Record<string, number>
    whaleShare: number
    top10Share: number
    customersHit: number
  }
  series: {
    seconds: number
    offered: number[]
    accepted: number[]
    delivered: number[]
    /** Accept latency by second of the arrival; null where nothing was accepted. */
    acceptMs: { p50: (number | null)[]; p95: (number | null)[]; p99: (number | null)[] }
    /** p95 delivery latency by second of acceptance. */
    deliveryP95ByPriority: Record<Priority, (number | null)[]>
    deliveryP95Small: (number | null)[]
    deliveryP95Whales: (number | null)[]
  }
  /** Delivery latency quantiles 0, 1, …, 100 % (ms), for the distribution chart. */
  cdf: { smallDuringFloods: number[]; smallOutsideFloods: number[]; whales: number[] }
}

export interface StageLatencies {
  toClaim: Percentiles
  claimToSent: Percentiles
  sentToDelivered: Percentiles
}

/** Stage latencies of delivered messages, collected one message at a time. */
class Stages {
  private readonly toClaim: number[] = []
  private readonly claimToSent: number[] = []
  private readonly sentToDelivered: number[] = []
  add(o: Outcome, receiptDelayMs: number) {
    const st = o.stagesMs
    if (!st || st.claimedAt === null || st.sentAt === null || o.deliveredAtMs === null) return
    this.toClaim.push(Math.max(0, st.claimedAt - st.createdAt))
    this.claimToSent.push(Math.max(0, st.sentAt - st.claimedAt))
    this.sentToDelivered.push(Math.max(0, o.deliveredAtMs - st.sentAt - receiptDelayMs))
  }
  result(): StageLatencies {
    return {
      toClaim: percentiles(this.toClaim),
      claimToSent: percentiles(this.claimToSent),
      sentToDelivered: percentiles(this.sentToDelivered),
    }
  }
}

export interface AnalyzeInput {
  plan: TrafficPlan
  schedule: Schedule
  drive: DriveResult
  outcomes: ReadonlyMap<string, Outcome>
  receiptDelayMs: number
}

const count = <K extends string>(keys: readonly K[], of: (i: number) => number, n: number) => {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>
  for (let i = 0; i < n; i++) out[keys[of(i)]!]++
  return out
}

function peakMovingMean(series: readonly number[], window: number): number {
  let best = 0
  let sum = 0
  for (let s = 0; s < series.length; s++) {
    sum += series[s]!
    if (s >= window) sum -= series[s - window]!
    best = Math.max(best, sum / Math.min(window, s + 1))
  }
  return best
}

function quantileCurve(values: number[]): number[] {
  if (values.length === 0) return []
  const sorted = Float64Array.from(values).sort()
  return Array.from(
    { length: 101 },
    (_, q) => sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))]!,
  )
}

export function analyze(input: AnalyzeInput): Analysis {
  const { plan, schedule, drive, outcomes, receiptDelayMs } = input
  const n = schedule.count
  const d = plan.params.durationS
  const t0 = drive.startEpochMs
  let lastS = Math.max(d, drive.elapsedS)
  for (let i = 0; i < n; i++) {
    const o = drive.ids[i] === undefined ? undefined : outcomes.get(drive.ids[i]!)
    if (o?.deliveredAtMs != null) lastS = Math.max(lastS, (o.deliveredAtMs - t0) / 1000)
  }
  const seconds = Math.ceil(lastS) + 1
  const offered = new SecondBuckets(seconds)
  const accepted = new SecondBuckets(seconds)
  const delivered = new SecondBuckets(seconds)
  const acceptMs = new SecondBuckets(seconds)
  const byLane = PRIORITIES.map(() => new SecondBuckets(seconds))
  const smallSeries = new SecondBuckets(seconds)
  const whaleSeries = new SecondBuckets(seconds)
  const lanes: number[][] = PRIORITIES.map(() => [])
  const small: number[] = []
  const smallFlood: number[] = []
  const smallOutside: number[] = []
  const smallBulkFlood: number[] = []
  const whales: number[] = []
  const smallFloodStages = new Stages()
  const whaleStages = new Stages()
  const all: number[] = []
  const acceptLatencies: number[] = []
  const otherFinal: Record<string, number> = {}
  let acceptedN = 0
  let deliveredN = 0
  let notFinal = 0
  let missing = 0

  for (let i = 0; i < n; i++) {
    offered.add(schedule.at[i]!)
    const at = drive.acceptedAtMs[i]!
    if (Number.isNaN(at)) continue
    acceptedN++
    const acceptS = (at - t0) / 1000
    accepted.add(acceptS)
    acceptMs.add(schedule.at[i]!, drive.latencyMs[i]!)
    acceptLatencies.push(drive.latencyMs[i]!)
    const id = drive.ids[i]
    const o = id === undefined ? undefined : outcomes.get(id)
    if (!o) {
      missing++
      continue
    }
    if (o.deliveredAtMs === null) {
      if (isFinalStatus(o.status)) otherFinal[o.status] = (otherFinal[o.status] ?? 0) + 1
      else notFinal++
      continue
    }
    deliveredN++
    delivered.add((o.deliveredAtMs - t0) / 1000)
    const ms = Math.max(0, o.deliveredAtMs - at - receiptDelayMs)
    const lane = schedule.priority[i]!
    all.push(ms)
    lanes[lane]!.push(ms)
    byLane[lane]!.add(acceptS, ms)
    if (isWhale(plan, schedule.customer[i]!)) {
      whales.push(ms)
      whaleStages.add(o, receiptDelayMs)
      whaleSeries.add(acceptS, ms)
    } else {
      small.push(ms)
      smallSeries.add(acceptS, ms)
      if (floodActive(plan, Math.floor(schedule.at[i]!))) {
        smallFlood.push(ms)
        smallFloodStages.add(o, receiptDelayMs)
        if (PRIORITIES[lane] === 'bulk') smallBulkFlood.push(ms)
      } else smallOutside.push(ms)
    }
  }

  const offeredSeries = offered.counts()
  const acceptedSeries = accepted.counts()
  const deliveredSeries = delivered.counts()
  const acceptPct = acceptMs.percentileSeries()
  const p95 = (b: SecondBuckets) => b.percentileSeries(5).map((p) => p?.p95 ?? null)
  const hits = new Map<number, number>()
  let whaleMessages = 0
  for (let i = 0; i < n; i++) {
    const c = schedule.customer[i]!
    hits.set(c, (hits.get(c) ?? 0) + 1)
    if (isWhale(plan, c)) whaleMessages++
  }
  const top10 = [...hits.values()].sort((a, b) => b - a).slice(0, 10)
  let lastDeliveredS = deliveredSeries.length
  while (lastDeliveredS > 0 && deliveredSeries[lastDeliveredS - 1] === 0) lastDeliveredS--

  return {
    totals: {
      offered: n,
      sent: n - (drive.errors['dropped'] ?? 0),
      accepted: acceptedN,
      delivered: deliveredN,
      otherFinal,
      notFinal,
      missing,
    },
    throughput: {
      offeredPerSec: n / d,
      acceptedPerSec: meanRate(acceptedSeries, 0, d),
      deliveredPerSecDuringLoad: meanRate(deliveredSeries, 0, d),
      deliveredPerSecOverall: lastDeliveredS > 0 ? deliveredN / lastDeliveredS : 0,
      peakOfferedPerSec: Math.max(0, ...offeredSeries),
      peakAccepted10sPerSec: peakMovingMean(acceptedSeries, 10),
      peakDelivered10sPerSec: peakMovingMean(deliveredSeries, 10),
    },
    acceptLatencyMs: percentiles(acceptLatencies),
    deliveryLatencyMs: {
      all: percentiles(all),
      byPriority: Object.fromEntries(PRIORITIES.map((p, k) => [p, percentiles(lanes[k]!)])) as Record<
        Priority,
        Percentiles
      >,
      small: percentiles(small),
      smallDuringFloods: percentiles(smallFlood),
      smallOutsideFloods: percentiles(smallOutside),
      smallBulkDuringFloods: percentiles(smallBulkFlood),
      whales: percentiles(whales),
    },
    stagesMs: { smallDuringFloods: smallFloodStages.result(), whales: whaleStages.result() },
    generatorLagMs: percentiles(drive.sendLagMs),
    mix: {
      byPriority: count(PRIORITIES, (i) => schedule.priority[i]!, n),
      byKind: count(BODY_KINDS, (i) => schedule.kind[i]!, n),
      byCountry: count(COUNTRIES, (i) => schedule.country[i]!, n),
      whaleShare: n > 0 ? whaleMessages / n : 0,
      top10Share: n > 0 ? top10.reduce((a, b) => a + b, 0) / n : 0,
      customersHit: hits.size,
    },
    series: {
      seconds,
      offered: offeredSeries,
      accepted: acceptedSeries,
      delivered: deliveredSeries,
      acceptMs: {
        p50: acceptPct.map((p) => p?.p50 ?? null),
        p95: acceptPct.map((p) => p?.p95 ?? null),
        p99: acceptPct.map((p) => p?.p99 ?? null),
      },
      deliveryP95ByPriority: Object.fromEntries(PRIORITIES.map((p, k) => [p, p95(byLane[k]!)])) as Record<
        Priority,
        (number | null)[]
      >,
      deliveryP95Small: p95(smallSeries),
      deliveryP95Whales: p95(whaleSeries),
    },
    cdf: {
      smallDuringFloods: quantileCurve(smallFlood),
      smallOutsideFloods: quantileCurve(smallOutside),
      whales: quantileCurve(whales),
    },
  }
}
