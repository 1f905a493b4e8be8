// Seeded randomness for the traffic model: the same --seed gives the same schedule, bodies and
// numbers, so two runs differ only in what the server did.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'

export type Random = () => number

/** Uniform in [0, 1), reproducible from `seed`. */
export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed)
  return () => uniformFloat64(rng)
}

/** Index drawn with probability proportional to `weights[i]`. */
export function pickWeighted(weights: readonly number[], random: Random): number {
  let total = 0
  for (const w of weights) total += w
  let r = random() * total
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!
    if (r < 0) return i
  }
  return weights.length - 1
}

export const pick = <T>(items: readonly T[], random: Random): T => items[Math.floor(random() * items.length)]!

export function digits(n: number, random: Random): string {
  let out = ''
  for (let i = 0; i < n; i++) out += Math.floor(random() * 10)
  return out
}
