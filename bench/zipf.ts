// Zipf-distributed rank sampling: rank k (1-based) is drawn with probability proportional to 1 / k^s.
// Real tenants are skewed like this (a few big senders, a long tail), which is what the accept path
// has to cope with; the CDF is precomputed once so a draw is one random number and a binary search.

export interface Zipf {
  /** Draws a 0-based rank: 0 is the most frequent. */
  sample(): number
  /** Probability mass of the `k` most frequent ranks together (0..1). */
  topShare(k: number): number
}

export function zipfCdf(n: number, s: number): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`zipf: n must be a positive integer, got ${n}`)
  if (!(s > 0)) throw new RangeError(`zipf: s must be > 0, got ${s}`)
  const cdf = new Float64Array(n)
  let sum = 0
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** s
    cdf[k - 1] = sum
  }
  for (let i = 0; i < n; i++) cdf[i] = cdf[i]! / sum
  // Rounding can leave the last entry a hair below 1; pin it so every u in [0, 1) finds a rank.
  cdf[n - 1] = 1
  return cdf
}

/** Smallest index i with cdf[i] > u, i.e. the rank whose CDF interval contains u. */
export function searchCdf(cdf: Float64Array, u: number): number {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid]! > u) hi = mid
    else lo = mid + 1
  }
  return lo
}

export function makeZipf(n: number, s: number, random: () => number = Math.random): Zipf {
  const cdf = zipfCdf(n, s)
  return {
    sample: () => searchCdf(cdf, random()),
    topShare: (k) => (k <= 0 ? 0 : cdf[Math.min(k, n) - 1]!),
  }
}
