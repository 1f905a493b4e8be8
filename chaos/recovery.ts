// Time to recover, from the delivered-message timestamps alone (pure, unit-tested).
//
// Definition: the baseline is the delivered rate over the `baselineS` seconds before the fault
// starts (after the first second of load). From the fault's reference instant — its end for a
// fault that lasts (an outage, throttling, a server stopped for a while), the kill for a kill -9 —
// recovery is the first instant t from which `sustain` consecutive buckets of `bucketMs` each
// deliver at least `threshold` × baseline. Every bucket must pass, so the catch-up burst after a
// gap cannot average the gap away. 0 means throughput never fell below the threshold by then;
// null means it did not come back before the load ended.

export interface RecoveryInput {
  /** Epoch ms of every delivered event, sorted ascending. */
  delivered: readonly number[]
  loadStart: number
  loadEnd: number
  faultStart: number
  /** Equal to faultStart for an instantaneous fault (kill -9). */
  faultEnd: number
  /** Default 5 s. */
  baselineS?: number
  /** Default 500 ms. */
  bucketMs?: number
  /** Consecutive good buckets that make a recovery. Default 2. */
  sustain?: number
  /** Default 0.8. */
  threshold?: number
  /** Resolution of the search, ms. Default 100. */
  stepMs?: number
}

export interface Recovery {
  baselinePerSec: number
  /** Seconds from the fault's reference instant until throughput was back; null: not before load ended. */
  recoveredAfterS: number | null
  /** Lowest bucket rate from the fault's start until recovery (or load end), as a share of the baseline. */
  lowestShare: number
}

/** Index of the first element ≥ t. */
function lowerBound(xs: readonly number[], t: number): number {
  let lo = 0
  let hi = xs.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (xs[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Events per second in [from, to). */
export function rateBetween(xs: readonly number[], from: number, to: number): number {
  if (to <= from) return 0
  return (lowerBound(xs, to) - lowerBound(xs, from)) / ((to - from) / 1000)
}

export function recoveryTime(input: RecoveryInput): Recovery {
  const baselineMs = (input.baselineS ?? 5) * 1000
  const bucket = input.bucketMs ?? 500
  const sustain = input.sustain ?? 2
  const threshold = input.threshold ?? 0.8
  const step = input.stepMs ?? 100
  const from = Math.max(input.loadStart + 1000, input.faultStart - baselineMs)
  const baselinePerSec = rateBetween(input.delivered, from, input.faultStart)
  if (baselinePerSec <= 0) return { baselinePerSec: 0, recoveredAfterS: null, lowestShare: 0 }
  const share = (t: number) => rateBetween(input.delivered, t, t + bucket) / baselinePerSec
  let lowest = Number.POSITIVE_INFINITY
  for (let t = input.faultStart; t < input.faultEnd && t + bucket <= input.loadEnd; t += step) {
    lowest = Math.min(lowest, share(t))
  }
  for (let t = input.faultEnd; t + sustain * bucket <= input.loadEnd; t += step) {
    const shares = Array.from({ length: sustain }, (_, k) => share(t + k * bucket))
    if (shares.every((s) => s >= threshold)) {
      return {
        baselinePerSec,
        recoveredAfterS: (t - input.faultEnd) / 1000,
        lowestShare: Math.min(lowest, shares[0]!),
      }
    }
    lowest = Math.min(lowest, shares[0]!)
  }
  return { baselinePerSec, recoveredAfterS: null, lowestShare: Number.isFinite(lowest) ? lowest : 0 }
}
