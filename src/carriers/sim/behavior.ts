// The simulator's dice: what to answer a submit, how long to take, how the message ends.

import { type Bucket, takeToken } from '../../domain/token-bucket.ts'
import type { Millis, OutcomeMix, SimOptions } from './options.ts'

export type Protocol = 'smpp' | 'http'
export type Verdict = 'accepted' | 'throttled' | 'transient' | 'permanent'
export type Outcome = keyof OutcomeMix

export interface Behavior {
  decide(protocol: Protocol): Verdict
  latency(): number
  receiptDelay(): number
  outcome(): Outcome
  /** Forget throughput history (after the cap changes). */
  resetThrottle(): void
}

export function createBehavior(options: () => SimOptions, random: () => number = Math.random): Behavior {
  const buckets = new Map<Protocol, Bucket>()
  const draw = (m: Millis) => (typeof m === 'number' ? m : m.min + Math.floor(random() * (m.max - m.min + 1)))
  return {
    decide(protocol) {
      const o = options()
      const cap = o.throughputPerSec
      if (cap !== null) {
        // A one-second burst, like a carrier that counts submits per second.
        const { bucket, result } = takeToken(buckets.get(protocol), Date.now(), cap, Math.max(1, cap))
        buckets.set(protocol, bucket)
        if (!result.allowed) return 'throttled'
      }
      const r = random()
      if (r < o.permanentErrorRate) return 'permanent'
      if (r < o.permanentErrorRate + o.transientErrorRate) return 'transient'
      return 'accepted'
    },
    latency: () => draw(options().latencyMs),
    receiptDelay: () => draw(options().receiptDelayMs),
    outcome() {
      const mix = options().outcomeMix
      const entries = Object.entries(mix) as Array<[Outcome, number]>
      const total = entries.reduce((s, [, w]) => s + w, 0)
      let r = random() * total
      for (const [outcome, w] of entries) {
        if (r < w) return outcome
        r -= w
      }
      // Only reachable through float rounding at the top end.
      return entries.filter(([, w]) => w > 0).at(-1)?.[0] ?? 'delivered'
    },
    resetThrottle() {
      buckets.clear()
    },
  }
}
