import assert from 'node:assert/strict'
import { test } from 'node:test'
import { idFromAccepted } from '../../../bench/sim/driver.ts'
import { isWhale } from '../../../bench/sim/model.ts'
import { formatProgress } from '../../../bench/sim/progress.ts'
import { meanRate, percentiles, SecondBuckets } from '../../../bench/sim/stats.ts'
import { fixtureRun } from './sim-fixture.ts'

test('percentiles interpolate between ranks; empty input gives zeros', () => {
  const p = percentiles(Array.from({ length: 100 }, (_, i) => 100 - i))
  assert.equal(p.count, 100)
  assert.equal(p.p50, 50.5)
  assert.ok(Math.abs(p.p95 - 95.05) < 1e-9, String(p.p95))
  assert.ok(Math.abs(p.p99 - 99.01) < 1e-9, String(p.p99))
  assert.equal(p.max, 100)
  assert.equal(p.mean, 50.5)
  assert.deepEqual(percentiles([]), { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 })
})

test('values land in the bucket of their whole second; outside the run they are dropped', () => {
  const b = new SecondBuckets(3)
  for (const [at, v] of [
    [0.2, 1],
    [0.99, 3],
    [1, 10],
    [2.5, 7],
    [-0.1, 99],
    [3, 99],
  ] as const) {
    b.add(at, v)
  }
  assert.deepEqual(b.counts(), [2, 1, 1])
  const series = b.percentileSeries(2)
  assert.equal(series[0]?.p50, 2)
  assert.equal(series[1], null)
  assert.equal(meanRate([1, 2, 3, 4], 1, 3), 2.5)
  assert.equal(meanRate([1, 2], 0, 10), 1.5)
})

test('analysis: delivery latency is net of the receipt delay, split by lane, size and floods', () => {
  const { analysis: a, schedule, plan } = fixtureRun()
  const n = schedule.count
  const notFinal = Math.floor(n / 50)
  assert.equal(a.totals.offered, n)
  assert.equal(a.totals.accepted, n)
  assert.equal(a.totals.notFinal, notFinal)
  assert.equal(a.totals.delivered, n - notFinal)
  assert.equal(a.deliveryLatencyMs.whales.p95, 2000)
  assert.equal(a.deliveryLatencyMs.small.p50, 500)
  assert.equal(a.deliveryLatencyMs.smallDuringFloods.max, 500)
  assert.equal(a.deliveryLatencyMs.byPriority.otp.p99, 500)
  assert.equal(a.acceptLatencyMs.max, 14)
  assert.ok(a.acceptLatencyMs.p50 >= 9 && a.acceptLatencyMs.p50 <= 10, String(a.acceptLatencyMs.p50))
  // Per-second series add up to the totals.
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0)
  assert.equal(sum(a.series.offered), n)
  assert.equal(sum(a.series.accepted), n)
  assert.equal(sum(a.series.delivered), n - notFinal)
  // A whale's delivered message lands 2.1 s after acceptance: the series reaches past the load.
  assert.ok(a.series.seconds > plan.params.durationS)
  let whales = 0
  for (let i = 0; i < n; i++) if (isWhale(plan, schedule.customer[i]!)) whales++
  assert.equal(a.mix.whaleShare, whales / n)
  assert.equal(a.cdf.whales[100], 2000)
  assert.equal(a.cdf.smallOutsideFloods[0], 500)
})

test('the 202 id is read from the start of the body, with a JSON fallback', () => {
  const id = '0190a5d2-7c1e-7a3b-8c9d-0123456789ab'
  assert.equal(idFromAccepted(`{"id":"${id}","object":"message"}`), id)
  assert.equal(idFromAccepted(`{"object":"message","id":"${id}"}`), id)
  assert.equal(idFromAccepted('not json'), undefined)
})

test('the progress line shows every figure, with a bar only on a terminal', () => {
  const view = {
    elapsedS: 30.4,
    totalS: 300,
    offeredPerS: 1002.4,
    acceptedPerS: 998.6,
    deliveredPerS: 640.2,
    acceptP50Ms: 4.25,
    acceptP99Ms: 31.7,
    errors: { '500': 3, '429': 0, ECONNRESET: 1 },
    outstanding: 12,
  }
  const line = formatProgress(view, true)
  assert.match(line, /^\[##-{18}\] {2}30\/300 s/)
  for (const part of [
    'offered 1002/s',
    'accepted 999/s',
    'delivered 640/s',
    'p50 4.3 ms',
    'p99 32 ms',
    '500x3',
    'ECONNRESET',
  ]) {
    assert.ok(line.includes(part), `${part} in ${line}`)
  }
  assert.ok(!line.includes('429'))
  assert.ok(!formatProgress({ ...view, deliveredPerS: null }, false).includes('['))
  assert.ok(formatProgress({ ...view, deliveredPerS: null }, false).includes('delivered -/s'))
})
