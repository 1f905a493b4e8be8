/** A customer with work waiting in one lane. */
export interface Backlogged {
  id: string
  /** Messages waiting. */
  backlog: number
  /** Most this customer may release now (its own rate limit's tokens). */
  cap: number
  /** What it was given lately (a decayed count, see `createUsage`); default 0. */
  used?: number
}

/**
 * Splits `credits` across customers by water-filling on what each has been given lately plus
 * what it gets now: the customers given least lately are filled first, each up to its backlog and
 * cap, until their levels meet the next ones'. With no history (all `used` 0) this is the plain
 * equal split (one message per customer per round). Credits that cannot be split evenly go one
 * each to customers in ring order after `startAfter`, so when credits are scarce the next call
 * serves the customers this one could not. Returns the allocation and the id to start after next
 * time.
 *
 * Why history (issue 12, ADR 6 amendment of 2026-12-07): an equal split per pass gives a small
 * customer's 1,000-message campaign only 1/6 of the lane beside five whales, so it waits as long
 * as their floods do; filling by recent use serves it first until it has had as much as they have.
 */
export function fairShare(
  customers: readonly Backlogged[],
  credits: number,
  startAfter?: string,
): { take: Map<string, number>; next: string | undefined } {
  const take = new Map<string, number>()
  const sorted = [...customers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const first = startAfter === undefined ? 0 : sorted.findIndex((c) => c.id > startAfter)
  const ring = (first <= 0 ? sorted : [...sorted.slice(first), ...sorted.slice(0, first)])
    .map((c) => ({ id: c.id, limit: Math.max(0, Math.min(c.backlog, c.cap)), used: Math.floor(c.used ?? 0) }))
    .filter((c) => c.limit > 0)
  const left = Math.max(0, Math.floor(credits))
  if (left === 0 || ring.length === 0) return { take, next: startAfter }
  // The highest whole level L whose fill `given(L)` fits the credits (binary search: given grows with L).
  const given = (level: number) => {
    let n = 0
    for (const c of ring) n += Math.min(c.limit, Math.max(0, level - c.used))
    return n
  }
  // Loops, not Math.min(...spread): a lane can have tens of thousands of customers waiting.
  let lo = Number.POSITIVE_INFINITY
  let hi = 0
  for (const c of ring) {
    lo = Math.min(lo, c.used)
    hi = Math.max(hi, c.used + c.limit)
  }
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (given(mid) <= left) lo = mid
    else hi = mid - 1
  }
  let spare = left
  for (const c of ring) {
    const n = Math.min(c.limit, Math.max(0, lo - c.used))
    if (n > 0) take.set(c.id, n)
    spare -= n
  }
  // The rest, one each in ring order, to customers that would rise with the next level.
  let last: string | undefined
  for (const c of ring) {
    if (spare === 0) break
    const n = take.get(c.id) ?? 0
    if (n < c.limit && c.used + n === lo) {
      take.set(c.id, n + 1)
      spare--
      last = c.id
    }
  }
  if (last === undefined) for (const c of ring) if (take.has(c.id)) last = c.id
  return { take, next: last ?? startAfter }
}

/** Decayed counts per key: what each key was given lately, halving every `halfLifeMs`. */
export interface Usage {
  /** The key's count now. */
  get(key: string, now: number): number
  add(key: string, n: number, now: number): void
  /**
   * The key's count in scaled units, for ordering only: lower means given less lately. Costs no
   * decay arithmetic, so a scheduler can compare every waiting key on each freed slot.
   */
  score(key: string): number
  readonly size: number
}

/**
 * Kept scaled: n given at time t adds n · 2^((t − t0) / halfLife), and every count shares the
 * factor 2^(−(now − t0) / halfLife), which does not change their order. Rescaled when that factor
 * grows large (about every 40 half-lives).
 */
export function createUsage(halfLifeMs: number, opts: { pruneAbove?: number } = {}): Usage {
  const pruneAbove = opts.pruneAbove ?? 10_000
  let pruneAt = pruneAbove
  const counts = new Map<string, number>()
  let t0: number | undefined
  const unitAt = (now: number) => {
    t0 ??= now
    return 2 ** ((now - t0) / halfLifeMs)
  }
  // Keys given nothing for a while are forgotten (a count under one message is no history).
  const forgetUnder = (unit: number) => {
    for (const [k, v] of counts) if (v < unit) counts.delete(k)
  }
  return {
    get(key, now) {
      const v = counts.get(key)
      return v === undefined ? 0 : v / unitAt(now)
    },
    add(key, n, now) {
      let unit = unitAt(now)
      if (unit > 2 ** 40) {
        for (const [k, v] of counts) counts.set(k, v / unit)
        forgetUnder(1)
        t0 = now
        unit = 1
      }
      counts.set(key, (counts.get(key) ?? 0) + n * unit)
      // The next sweep waits until the map has doubled, so sweeps cost O(1) per add.
      if (counts.size > pruneAt) {
        forgetUnder(unit)
        pruneAt = Math.max(pruneAbove, 2 * counts.size)
      }
    },
    score(key) {
      return counts.get(key) ?? 0
    },
    get size() {
      return counts.size
    },
  }
}

/** Orders claimed rows round by round across customers: A1 B1 C1 A2 B2 … (each list in its own order). */
export function interleave<T>(byCustomer: readonly T[][]): T[] {
  const out: T[] = []
  for (let round = 0; ; round++) {
    let any = false
    for (const list of byCustomer) {
      const item = list[round]
      if (item !== undefined) {
        out.push(item)
        any = true
      }
    }
    if (!any) return out
  }
}
