import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BODY_KINDS, BODY_MIX, drawBodyKind, makeBody, PRIORITIES } from '../../../bench/sim/bodies.ts'
import { COUNTRIES, mobileNumber } from '../../../bench/sim/destinations.ts'
import {
  buildSchedule,
  EVERYDAY_PRIORITY_MIX,
  floodActive,
  HOME_SHARE,
  isWhale,
  planTraffic,
  type TrafficParams,
} from '../../../bench/sim/model.ts'
import { seededRandom } from '../../../bench/sim/random.ts'
import { parseRecipient } from '../../../src/domain/phone.ts'
import { analyzeBody } from '../../../src/domain/segments.ts'

const params: TrafficParams = {
  durationS: 200,
  rate: 400,
  customers: 5000,
  whales: 5,
  zipfS: 1.1,
  whaleShare: 0.4,
  campaignShare: 0.1,
  diurnalAmplitude: 0.3,
}

function model(seed: number, p = params) {
  const random = seededRandom(seed)
  const plan = planTraffic(p, random)
  return { plan, schedule: buildSchedule(plan, random) }
}

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual.toFixed(4)}, expected ${expected} ± ${tolerance}`,
  )

test('the same seed gives the same schedule, another seed another one', () => {
  const a = model(42).schedule
  const b = model(42).schedule
  const c = model(43).schedule
  assert.equal(a.count, b.count)
  assert.deepEqual(a.at, b.at)
  assert.deepEqual(a.customer, b.customer)
  assert.notDeepEqual(a.customer.slice(0, 1000), c.customer.slice(0, 1000))
})

test('arrivals are ascending within the run and average the asked rate', () => {
  const { schedule } = model(1)
  for (let i = 1; i < schedule.count; i++) assert.ok(schedule.at[i]! >= schedule.at[i - 1]!)
  assert.ok(schedule.at[0]! >= 0 && schedule.at[schedule.count - 1]! < params.durationS)
  near(schedule.count / params.durationS, params.rate, params.rate * 0.03, 'mean msg/s')
})

test('whales dominate the volume, flood only bulk and only inside their windows, which start mid-run', () => {
  const { plan, schedule } = model(2)
  const perCustomer = new Map<number, number>()
  let whale = 0
  for (let i = 0; i < schedule.count; i++) {
    const c = schedule.customer[i]!
    perCustomer.set(c, (perCustomer.get(c) ?? 0) + 1)
    if (!isWhale(plan, c)) continue
    whale++
    assert.equal(PRIORITIES[schedule.priority[i]!], 'bulk')
    const flood = plan.floods.find((f) => f.customer === c)!
    assert.ok(
      schedule.at[i]! >= flood.startS && schedule.at[i]! < flood.endS,
      'whale message outside its flood',
    )
  }
  near(whale / schedule.count, params.whaleShare, 0.03, 'whale share')
  const biggestSmall = Math.max(...[...perCustomer].filter(([c]) => c >= params.whales).map(([, n]) => n))
  for (let w = 0; w < params.whales; w++) assert.ok(perCustomer.get(w)! > biggestSmall, `whale ${w}`)
  // Whale volume follows Zipf: the first sends more than the last.
  assert.ok(perCustomer.get(0)! > perCustomer.get(params.whales - 1)!)
  assert.ok(Math.min(...plan.floods.map((f) => f.startS)) >= params.durationS * 0.25)
  assert.ok(!floodActive(plan, 0) && floodActive(plan, params.durationS / 2))
  // Thousands of small customers send something.
  assert.ok(perCustomer.size > 2000, `${perCustomer.size} customers sent`)
})

test('everyday small-customer traffic follows the otp/high/normal mix', () => {
  const { plan, schedule } = model(3)
  const campaignCustomers = new Set(plan.campaigns.map((c) => c.customer))
  const counts = [0, 0, 0, 0]
  let total = 0
  for (let i = 0; i < schedule.count; i++) {
    const c = schedule.customer[i]!
    if (isWhale(plan, c) || campaignCustomers.has(c)) continue
    counts[schedule.priority[i]!]!++
    total++
  }
  for (const [k, p] of PRIORITIES.entries()) near(counts[k]! / total, EVERYDAY_PRIORITY_MIX[k]!, 0.015, p)
})

test('body kinds follow the mix of each priority', () => {
  const random = seededRandom(4)
  for (const p of PRIORITIES) {
    const counts = BODY_KINDS.map(() => 0)
    for (let i = 0; i < 50_000; i++) counts[drawBodyKind(p, random)]!++
    for (const [k, kind] of BODY_KINDS.entries())
      near(counts[k]! / 50_000, BODY_MIX[p][k]!, 0.01, `${p} ${kind}`)
  }
})

test('bodies have the promised encoding and segments', () => {
  const random = seededRandom(5)
  const segmentsSeen = new Set<number>()
  for (const kind of BODY_KINDS) {
    for (let i = 0; i < 300; i++) {
      const info = analyzeBody(makeBody(kind, 'bulk', random))
      const body = `${kind}: ${info.encoding} ${info.segments}`
      if (kind === 'gsm' || kind === 'gsm-ext')
        assert.ok(info.encoding === 'GSM-7' && info.segments === 1, body)
      if (kind === 'ucs2') assert.ok(info.encoding === 'UCS-2' && info.segments === 1, body)
      if (kind.endsWith('-long')) {
        assert.equal(info.encoding, kind === 'gsm-long' ? 'GSM-7' : 'UCS-2', body)
        assert.ok(info.segments >= 2 && info.segments <= 4, body)
        segmentsSeen.add(info.segments)
      }
    }
  }
  assert.deepEqual([...segmentsSeen].sort(), [2, 3, 4])
  // Extension characters cost two septets: the text is longer in units than in characters.
  const ext = analyzeBody(makeBody('gsm-ext', 'normal', random))
  assert.ok(ext.units > ext.characters)
})

test('destinations are valid mobiles of their country, mostly the customer’s home country', () => {
  const random = seededRandom(6)
  for (const country of COUNTRIES) {
    for (let i = 0; i < 2000; i++) {
      const n = mobileNumber(country, random)
      const parsed = parseRecipient(n)
      assert.ok(parsed.ok && parsed.country === country, `${n} is not a ${country} mobile`)
    }
  }
  const { plan, schedule } = model(7)
  let home = 0
  for (let i = 0; i < schedule.count; i++)
    if (schedule.country[i] === plan.homeCountry[schedule.customer[i]!]) home++
  // The rest follows the country mix, which lands on the home country now and then too.
  assert.ok(home / schedule.count >= HOME_SHARE, `home share ${home / schedule.count}`)
  assert.ok(home / schedule.count < 0.9, `home share ${home / schedule.count}`)
})

test('bad parameters are refused', () => {
  assert.throws(() => planTraffic({ ...params, whales: params.customers }, seededRandom(1)), RangeError)
  assert.throws(() => planTraffic({ ...params, durationS: 0 }, seededRandom(1)), RangeError)
  assert.throws(() => planTraffic({ ...params, whaleShare: 0.95 }, seededRandom(1)), RangeError)
})
