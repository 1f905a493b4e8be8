// Percentiles and per-second buckets for the sim report. Exact (sorted samples), which at a few
// hundred thousand messages per run costs milliseconds.
import { quantileSorted } from 'd3-array'

export interface Percentiles {
  count: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export const EMPTY: Percentiles = { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 }

/** Percentiles of `values` (any order); all zero when empty. */
export function percentiles(values: ArrayLike<number>): Percentiles {
  if (values.length === 0) return EMPTY
  const sorted = Array.from(Float64Array.from(values).sort())
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    p50: quantileSorted(sorted, 0.5) ?? 0,
    p95: quantileSorted(sorted, 0.95) ?? 0,
    p99: quantileSorted(sorted, 0.99) ?? 0,
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  }
}

/** Values grouped by whole second since the start (negative or past the end are dropped). */
export class SecondBuckets {
  readonly buckets: number[][]
  constructor(seconds: number) {
    this.buckets = Array.from({ length: seconds }, () => [])
  }
  get seconds(): number {
    return this.buckets.length
  }
  add(atS: number, value = 0): void {
    const s = Math.floor(atS)
    if (s >= 0 && s < this.buckets.length) this.buckets[s]!.push(value)
  }
  counts(): number[] {
    return this.buckets.map((b) => b.length)
  }
  /** Per-second percentile series; null for seconds with fewer than `minCount` values. */
  percentileSeries(minCount = 1): (Percentiles | null)[] {
    return this.buckets.map((b) => (b.length >= minCount ? percentiles(b) : null))
  }
}

/** Mean of `series` over seconds [from, to). */
export function meanRate(series: readonly number[], from: number, to: number): number {
  const end = Math.min(to, series.length)
  if (end <= from) return 0
  let sum = 0
  for (let s = from; s < end; s++) sum += series[s]!
  return sum / (end - from)
}
