// The traffic model: who sends what, when. Pure and seeded, so it is unit-tested and two runs with
// the same --seed offer the same traffic.
//
// Three sources add up to the offered rate, normalised so the run's mean is `rate` msg/s:
// - everyday traffic of the small customers (every rank below the whales), picked by Zipf, as
//   otp/high/normal, following a compressed day (quiet at the start and end, busiest mid-run);
// - campaigns: short bursts (5–20 s) of normal or bulk traffic from one small customer;
// - whale floods: the `whales` biggest customers each flood `bulk` for 40 % of the run, starting
//   one after another from a quarter of the way in, with volume by their Zipf weight.
// Arrivals within each second are a Poisson process (open loop: nobody waits for an answer).

import { searchCdf } from '../zipf.ts'
import { drawBodyKind, PRIORITIES, type Priority } from './bodies.ts'
import { COUNTRIES, COUNTRY_MIX } from './destinations.ts'
import { pickWeighted, type Random } from './random.ts'

export interface TrafficParams {
  durationS: number
  /** Mean offered msg/s over the run. */
  rate: number
  /** All customers, whales included. */
  customers: number
  /** The biggest customers by Zipf rank, who flood bulk mid-run. */
  whales: number
  zipfS: number
  /** Share of all messages sent by the whales' floods (default 0.4). */
  whaleShare: number
  /** Share of all messages sent in small customers' campaigns (default 0.1). */
  campaignShare: number
  /** Everyday traffic swings by ± this share over the run (default 0.3). */
  diurnalAmplitude: number
}

export const DEFAULT_MODEL = { zipfS: 1.1, whaleShare: 0.4, campaignShare: 0.1, diurnalAmplitude: 0.3 }

/** Priorities of everyday small-customer traffic, in PRIORITIES order (no bulk). */
export const EVERYDAY_PRIORITY_MIX = [0.35, 0.15, 0.5, 0] as const
/** Share of a customer's messages that go to its home country; the rest follow COUNTRY_MIX. */
export const HOME_SHARE = 0.8

export interface Window {
  customer: number
  priority: Priority
  /** Whole seconds from the start, end exclusive. */
  startS: number
  endS: number
  /** Expected messages over the window. */
  messages: number
}

export interface TrafficPlan {
  params: TrafficParams
  floods: Window[]
  campaigns: Window[]
  /** Index into COUNTRIES per customer. */
  homeCountry: Uint8Array
  /** Expected offered msg/s per second of the run (all sources). */
  expectedPerSecond: Float64Array
  /** Expected everyday msg/s per second. */
  everydayPerSecond: Float64Array
}

export interface Schedule {
  count: number
  /** Seconds from the start, ascending. */
  at: Float64Array
  customer: Int32Array
  /** Index into PRIORITIES. */
  priority: Uint8Array
  /** Index into BODY_KINDS. */
  kind: Uint8Array
  /** Index into COUNTRIES. */
  country: Uint8Array
}

export const isWhale = (plan: TrafficPlan, customer: number) => customer < plan.params.whales

/** True when a whale flood is running during second `s`. */
export const floodActive = (plan: TrafficPlan, s: number) =>
  plan.floods.some((f) => s >= f.startS && s < f.endS)

const zipfWeight = (rank0: number, s: number) => 1 / (rank0 + 1) ** s

/**
 * Draws a 0-based rank in [from, to) with Zipf weights of the ranks themselves, so the small
 * customers continue the whales' curve instead of starting a new one (the biggest small customer
 * stays smaller than the smallest whale).
 */
export function rankPicker(from: number, to: number, s: number, random: Random): () => number {
  const cdf = new Float64Array(to - from)
  let sum = 0
  for (let k = from; k < to; k++) cdf[k - from] = sum += zipfWeight(k, s)
  for (let i = 0; i < cdf.length; i++) cdf[i] = cdf[i]! / sum
  cdf[cdf.length - 1] = 1
  return () => from + searchCdf(cdf, random())
}

export function planTraffic(params: TrafficParams, random: Random): TrafficPlan {
  const { durationS: d, rate, customers, whales } = params
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`duration must be a whole number ≥ 1, got ${d}`)
  if (whales < 0 || whales >= customers) throw new RangeError('whales must be fewer than customers')
  const total = rate * d
  const whaleShare = whales > 0 ? params.whaleShare : 0
  const everydayTotal = total * (1 - whaleShare - params.campaignShare)
  if (everydayTotal < 0) throw new RangeError('whale and campaign shares add up to more than 1')

  const countryWeights = COUNTRIES.map((c) => COUNTRY_MIX[c])
  const homeCountry = new Uint8Array(customers)
  for (let c = 0; c < customers; c++) homeCountry[c] = pickWeighted(countryWeights, random)

  const everydayPerSecond = new Float64Array(d)
  const shape = Array.from(
    { length: d },
    (_, s) => 1 - params.diurnalAmplitude * Math.cos((2 * Math.PI * (s + 0.5)) / d),
  )
  const shapeSum = shape.reduce((a, b) => a + b, 0)
  for (let s = 0; s < d; s++) everydayPerSecond[s] = (everydayTotal * shape[s]!) / shapeSum

  const floods: Window[] = []
  const whaleWeights = Array.from({ length: whales }, (_, w) => zipfWeight(w, params.zipfS))
  const whaleWeightSum = whaleWeights.reduce((a, b) => a + b, 0)
  const floodLength = Math.max(1, Math.round(d * 0.4))
  for (let w = 0; w < whales; w++) {
    const startS = Math.min(d - 1, Math.floor(d * (0.25 + (0.3 * w) / Math.max(1, whales - 1))))
    floods.push({
      customer: w,
      priority: 'bulk',
      startS,
      endS: Math.min(d, startS + floodLength),
      messages: (total * whaleShare * whaleWeights[w]!) / whaleWeightSum,
    })
  }

  const campaigns: Window[] = []
  const pickSmall = rankPicker(whales, customers, params.zipfS, random)
  const campaignCount = params.campaignShare > 0 ? Math.max(1, Math.round(d / 40)) : 0
  for (let i = 0; i < campaignCount; i++) {
    const length = Math.min(d, 5 + Math.floor(random() * 16))
    const startS = Math.floor(random() * (d - length + 1))
    campaigns.push({
      customer: pickSmall(),
      priority: random() < 0.5 ? 'normal' : 'bulk',
      startS,
      endS: startS + length,
      messages: (total * params.campaignShare) / campaignCount,
    })
  }

  const expectedPerSecond = Float64Array.from(everydayPerSecond)
  for (const win of [...floods, ...campaigns]) {
    const perS = win.messages / (win.endS - win.startS)
    for (let s = win.startS; s < win.endS; s++) expectedPerSecond[s]! += perS
  }
  return { params, floods, campaigns, homeCountry, expectedPerSecond, everydayPerSecond }
}

/** Draws every arrival of the run from the plan. */
export function buildSchedule(plan: TrafficPlan, random: Random): Schedule {
  const { params } = plan
  const pickSmall = rankPicker(params.whales, params.customers, params.zipfS, random)
  const countryWeights = COUNTRIES.map((c) => COUNTRY_MIX[c])
  const capacity = Math.ceil(params.rate * params.durationS * 1.2 + 1000)
  let s: Schedule = alloc(capacity)
  let n = 0
  const windows = [...plan.floods, ...plan.campaigns]
  for (let sec = 0; sec < params.durationS; sec++) {
    const active = windows.filter((w) => sec >= w.startS && sec < w.endS)
    const weights = [plan.everydayPerSecond[sec]!, ...active.map((w) => w.messages / (w.endS - w.startS))]
    const lambda = weights.reduce((a, b) => a + b, 0)
    if (lambda <= 0) continue
    // Poisson arrivals: exponential gaps with mean 1/lambda.
    const gap = () => -Math.log(1 - random()) / lambda
    for (let t = sec + gap(); t < sec + 1; t += gap()) {
      if (n === s.at.length) s = grow(s)
      const source = pickWeighted(weights, random)
      let customer: number
      let priority: number
      if (source === 0) {
        customer = pickSmall()
        priority = pickWeighted(EVERYDAY_PRIORITY_MIX, random)
      } else {
        const w = active[source - 1]!
        customer = w.customer
        priority = PRIORITIES.indexOf(w.priority)
      }
      s.at[n] = t
      s.customer[n] = customer
      s.priority[n] = priority
      s.kind[n] = drawBodyKind(PRIORITIES[priority]!, random)
      s.country[n] =
        random() < HOME_SHARE ? plan.homeCountry[customer]! : pickWeighted(countryWeights, random)
      n++
    }
  }
  return { ...slice(s, n), count: n }
}

function alloc(n: number): Schedule {
  return {
    count: 0,
    at: new Float64Array(n),
    customer: new Int32Array(n),
    priority: new Uint8Array(n),
    kind: new Uint8Array(n),
    country: new Uint8Array(n),
  }
}

function grow(s: Schedule): Schedule {
  const g = alloc(s.at.length * 2)
  g.at.set(s.at)
  g.customer.set(s.customer)
  g.priority.set(s.priority)
  g.kind.set(s.kind)
  g.country.set(s.country)
  return g
}

function slice(s: Schedule, n: number): Schedule {
  return {
    count: n,
    at: s.at.slice(0, n),
    customer: s.customer.slice(0, n),
    priority: s.priority.slice(0, n),
    kind: s.kind.slice(0, n),
    country: s.country.slice(0, n),
  }
}
