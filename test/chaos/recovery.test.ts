import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rateBetween, recoveryTime } from '../../chaos/recovery.ts'

/** Delivered timestamps at `perSec` evenly spaced, from `from` to `to` ms, skipping [gapFrom, gapTo). */
function steady(perSec: number, from: number, to: number, gaps: [number, number][] = []): number[] {
  const out: number[] = []
  for (let t = from; t < to; t += 1000 / perSec) {
    if (!gaps.some(([a, b]) => t >= a && t < b)) out.push(t)
  }
  return out
}

describe('recovery time', () => {
  it('is the end of the gap after a kill: throughput back at 3 s', () => {
    const delivered = steady(100, 0, 30_000, [[10_000, 13_000]])
    const r = recoveryTime({ delivered, loadStart: 0, loadEnd: 30_000, faultStart: 10_000, faultEnd: 10_000 })
    assert.equal(Math.round(r.baselinePerSec), 100)
    // A bucket counts once it is 80 % inside the recovered stretch: up to 0.1 s early.
    assert.ok(r.recoveredAfterS !== null && Math.abs(r.recoveredAfterS - 3) <= 0.15, `${r.recoveredAfterS}`)
    assert.equal(r.lowestShare, 0)
  })

  it('is not fooled by the catch-up burst right after the gap', () => {
    // 3 s of nothing, then the 300-message backlog in 0.2 s, then the steady rate.
    const burst = Array.from({ length: 300 }, (_, i) => 13_000 + (i * 200) / 300)
    const delivered = [...steady(100, 0, 30_000, [[10_000, 13_000]]), ...burst].sort((a, b) => a - b)
    const r = recoveryTime({ delivered, loadStart: 0, loadEnd: 30_000, faultStart: 10_000, faultEnd: 10_000 })
    assert.ok(r.recoveredAfterS !== null && r.recoveredAfterS >= 2.6, `recovered at ${r.recoveredAfterS}`)
    assert.ok(r.recoveredAfterS <= 3)
  })

  it('is 0 when throughput never dropped (failover kept it up)', () => {
    const delivered = steady(100, 0, 30_000)
    const r = recoveryTime({ delivered, loadStart: 0, loadEnd: 30_000, faultStart: 8000, faultEnd: 14_000 })
    assert.equal(r.recoveredAfterS, 0)
    assert.ok(r.lowestShare >= 0.95)
  })

  it('counts from the end of a lasting fault', () => {
    const delivered = steady(100, 0, 40_000, [[8000, 16_000]])
    const r = recoveryTime({ delivered, loadStart: 0, loadEnd: 40_000, faultStart: 8000, faultEnd: 14_000 })
    assert.ok(r.recoveredAfterS !== null && Math.abs(r.recoveredAfterS - 2) <= 0.15, `${r.recoveredAfterS}`)
  })

  it('is null when throughput stays below 80 % until the load ends', () => {
    const delivered = [...steady(100, 0, 10_000), ...steady(60, 10_000, 30_000)]
    const r = recoveryTime({ delivered, loadStart: 0, loadEnd: 30_000, faultStart: 10_000, faultEnd: 10_000 })
    assert.equal(r.recoveredAfterS, null)
    assert.ok(Math.abs(r.lowestShare - 0.6) < 0.05)
  })

  it('has no baseline (null) when nothing was delivered before the fault', () => {
    const r = recoveryTime({
      delivered: steady(100, 5000, 20_000),
      loadStart: 0,
      loadEnd: 20_000,
      faultStart: 4000,
      faultEnd: 4000,
    })
    assert.equal(r.baselinePerSec, 0)
    assert.equal(r.recoveredAfterS, null)
  })

  it('rateBetween counts events in [from, to) per second', () => {
    assert.equal(rateBetween([0, 100, 999, 1000], 0, 1000), 3)
    assert.equal(rateBetween([0, 100], 500, 500), 0)
  })
})
