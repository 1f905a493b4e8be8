/** A provider that can take a destination, as the router sees it. */
export interface RouteCandidate {
  name: string
  weight: number
  /** ISO alpha-2 countries served; undefined = all. */
  countries?: readonly string[]
  /** E.164 prefixes served (with or without +); more specific than countries. */
  prefixes?: readonly string[]
  /** False while its circuit is open. */
  available: boolean
}

const digits = (p: string) => p.replace(/^\+/, '')

/**
 * Orders the providers to try for a destination: only those serving it (the longest matching
 * prefix wins over country matches), available ones first; the first choice is drawn by weight,
 * the rest follow by weight as the failover order. `random` is in [0, 1).
 */
export function orderRoutes(
  candidates: readonly RouteCandidate[],
  to: string,
  country: string,
  random: () => number = Math.random,
): string[] {
  const number = digits(to)
  const prefixLen = (c: RouteCandidate) =>
    Math.max(
      0,
      ...(c.prefixes ?? []).filter((p) => number.startsWith(digits(p))).map((p) => digits(p).length),
    )
  const best = Math.max(0, ...candidates.map(prefixLen))
  const serving = candidates.filter((c) =>
    best > 0 ? prefixLen(c) === best : !c.prefixes?.length && (!c.countries || c.countries.includes(country)),
  )
  const byWeight = (list: RouteCandidate[]) =>
    [...list].sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name))
  const up = byWeight(serving.filter((c) => c.available && c.weight > 0))
  const down = byWeight(serving.filter((c) => !c.available || c.weight <= 0))
  const total = up.reduce((s, c) => s + c.weight, 0)
  if (total > 0) {
    let r = random() * total
    const i = up.findIndex((c) => {
      r -= c.weight
      return r < 0
    })
    const first = up.splice(Math.max(i, 0), 1)
    return [...first, ...up, ...down].map((c) => c.name)
  }
  return [...up, ...down].map((c) => c.name)
}
