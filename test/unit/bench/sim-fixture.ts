// A made-up sim run with known answers: every message accepted 5–14 ms after its scheduled time,
// delivered 500 ms (small customers) or 2 s (whales) after acceptance plus the receipt delay,
// and every 50th message left short of a final status.
import { analyze } from '../../../bench/sim/analyze.ts'
import type { DriveResult } from '../../../bench/sim/driver.ts'
import { buildSchedule, isWhale, planTraffic, type TrafficParams } from '../../../bench/sim/model.ts'
import type { Outcome } from '../../../bench/sim/outcomes.ts'
import { seededRandom } from '../../../bench/sim/random.ts'
import type { SimResult } from '../../../bench/sim/result.ts'

export const RECEIPT_DELAY_MS = 100

export function fixtureRun() {
  const params: TrafficParams = {
    durationS: 40,
    rate: 100,
    customers: 200,
    whales: 3,
    zipfS: 1.1,
    whaleShare: 0.4,
    campaignShare: 0.1,
    diurnalAmplitude: 0.3,
  }
  const random = seededRandom(7)
  const plan = planTraffic(params, random)
  const schedule = buildSchedule(plan, random)
  const n = schedule.count
  const t0 = 1_800_000_000_000
  const drive: DriveResult = {
    startEpochMs: t0,
    acceptedAtMs: new Float64Array(n),
    latencyMs: new Float64Array(n),
    ids: [],
    errors: { '500': 2 },
    sendLagMs: new Float64Array(n),
    elapsedS: params.durationS,
  }
  const outcomes = new Map<string, Outcome>()
  for (let i = 0; i < n; i++) {
    const latency = 5 + (i % 10)
    const at = t0 + schedule.at[i]! * 1000 + latency
    drive.acceptedAtMs[i] = at
    drive.latencyMs[i] = latency
    const id = `m${i}`
    drive.ids[i] = id
    const delivery = isWhale(plan, schedule.customer[i]!) ? 2000 : 500
    outcomes.set(
      id,
      i % 50 === 49
        ? { status: 'sent', deliveredAtMs: null }
        : {
            status: 'delivered',
            deliveredAtMs: at + RECEIPT_DELAY_MS + delivery,
            // Claimed 100 ms after the accept commit, sent 200 ms (small) or 900 ms (whale) later.
            stagesMs: { createdAt: at, claimedAt: at + 100, sentAt: at + (delivery === 500 ? 300 : 1000) },
          },
    )
  }
  const analysis = analyze({ plan, schedule, drive, outcomes, receiptDelayMs: RECEIPT_DELAY_MS })
  return { params, plan, schedule, drive, outcomes, analysis }
}

export function fixtureResult(): SimResult {
  const { params, plan, analysis, drive } = fixtureRun()
  return {
    benchmark: 'sim',
    startedAt: '2026-11-22T12:00:00.000Z',
    finishedAt: '2026-11-22T12:01:40.000Z',
    options: {
      durationS: params.durationS,
      rate: params.rate,
      customers: params.customers,
      whales: params.whales,
      seed: 7,
      zipfS: 1.1,
      whaleShare: 0.4,
      connections: 8,
      drainS: 60,
      receiptDelayMs: RECEIPT_DELAY_MS,
      setupConcurrency: 8,
      smsgwDir: '/repo/',
      database: 'smsgw_bench_sim',
      outDir: '/tmp',
      target: null,
      pgUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      natsUrl: 'nats://127.0.0.1:4222',
    },
    target: { mode: 'spawned', url: 'http://127.0.0.1:1' },
    machine: {
      cpus: 2,
      cpuModel: 'Test <CPU>',
      memoryGiB: 1,
      platform: 'linux',
      kernel: '6',
      arch: 'x64',
      node: 'v20',
      loadAvg1mAtStart: 0,
      busyPctAtStart: 0,
      revision: null,
      pg: null,
    },
    model: { seed: 7, params, floods: plan.floods, campaigns: plan.campaigns },
    setup: { customers: params.customers, seconds: 1 },
    receiptDelayMs: RECEIPT_DELAY_MS,
    latencySource: 'fixture',
    drain: { drained: false, pending: 3, waitedS: 60, limitS: 60 },
    errors: drive.errors,
    analysis,
    cpuPct: { sender: 31.5, server: 88.2, machine: 190.4 },
    reconciliation: {
      ran: true,
      ok: false,
      checks: [
        {
          name: 'none lost',
          ok: true,
          found: 0,
          detail: 'every accepted message is final or pending',
          samples: [],
        },
        { name: 'ledger sums', ok: false, found: 1, detail: 'sum(ledger) <> balance', samples: [] },
      ],
    },
    notes: ['a note with <markup> & more'],
  }
}
