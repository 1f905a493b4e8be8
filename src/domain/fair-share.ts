/** A customer with work waiting in one lane. */
export interface Backlogged {
  id: string
  /** Messages waiting. */
  backlog: number
  /** Most this customer may release now (its own rate limit's tokens). */
  cap: number
}

/**
 * Splits `credits` across customers fairly (water-filling: one message per customer per round,
 * customers that run out of backlog or cap drop out), starting after `startAfter` so that when
 * credits are scarce the next call serves the customers this one could not.
 * Returns the allocation and the id to start after next time.
 */
export function fairShare(
  customers: readonly Backlogged[],
  credits: number,
  startAfter?: string,
): { take: Map<string, number>; next: string | undefined } {
  const take = new Map<string, number>()
  const sorted = [...customers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const first = startAfter === undefined ? 0 : sorted.findIndex((c) => c.id > startAfter)
  const ring = first <= 0 ? sorted : [...sorted.slice(first), ...sorted.slice(0, first)]
  let left = Math.max(0, Math.floor(credits))
  let last: string | undefined
  let active = ring.filter((c) => Math.min(c.backlog, c.cap) > 0)
  while (left > 0 && active.length > 0) {
    const still: Backlogged[] = []
    for (const c of active) {
      if (left === 0) break
      const got = (take.get(c.id) ?? 0) + 1
      take.set(c.id, got)
      left--
      last = c.id
      if (got < Math.min(c.backlog, c.cap)) still.push(c)
    }
    active = still
  }
  return { take, next: last ?? startAfter }
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
