// `e2e --compare N`: the cost of webhooks on the pipeline's throughput, measured despite a shared
// machine's noise: N pairs of runs without (A) and with (B) webhooks, interleaved A B B A A B …,
// each run a fresh stack; the medians of each side and each run's figures with its load average.
import type { Baseline, E2eResult } from './e2e.ts'

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export async function compareWebhooks(
  pairs: number,
  runOnce: (
    webhooks: boolean,
    without: (Baseline & { file: string }) | undefined,
  ) => Promise<{ code: number; result: E2eResult }>,
): Promise<number> {
  if (!Number.isInteger(pairs) || pairs < 1) throw new Error('--compare N: N pairs, at least 1')
  const runs: { webhooks: boolean; result: E2eResult }[] = []
  let code = 0
  let lastWithout: E2eResult | undefined
  for (let i = 0; i < pairs; i++) {
    // ABBA: neither side always runs first (the box's load drifts over a comparison).
    const order = i % 2 === 0 ? [false, true] : [true, false]
    for (const webhooks of order) {
      console.error(`compare: pair ${i + 1}/${pairs}, ${webhooks ? 'with' : 'without'} webhooks`)
      const without =
        webhooks && lastWithout ? { ...lastWithout, file: 'previous run of the comparison' } : undefined
      const run = await runOnce(webhooks, without)
      code ||= run.code
      runs.push({ webhooks, result: run.result })
      if (!webhooks) lastWithout = run.result
    }
  }
  const side = (webhooks: boolean) => runs.filter((r) => r.webhooks === webhooks).map((r) => r.result)
  const summary = (rs: E2eResult[]) => ({
    deliveredPerSec: median(rs.map((r) => r.deliveredPerSec)),
    acceptedPerSec: median(rs.map((r) => r.acceptedPerSec)),
    loadAvgAtStart: median(rs.map((r) => r.loadAvg.atStart[0] as number)),
  })
  const without = summary(side(false))
  const withHooks = summary(side(true))
  const hooks = side(true).flatMap((r) => (r.webhooks ? [r.webhooks] : []))
  const comparison = {
    pairs,
    without,
    with: {
      ...withHooks,
      webhooksPerSecDuringLoad: median(hooks.map((w) => w.receivedPerSecDuringLoad)),
      producedPerSecDuringLoad: median(hooks.map((w) => w.producedPerSecDuringLoad)),
      backlogAt50: median(hooks.map((w) => w.backlog.at50)),
      backlogAtLoadEnd: median(hooks.map((w) => w.backlog.atLoadEnd)),
      latencyP50Ms: median(hooks.map((w) => w.latencyMs.p50)),
      latencyP95Ms: median(hooks.map((w) => w.latencyMs.p95)),
      webhooksRoleUsPerWebhook: median(hooks.map((w) => w.cpu.webhooksRoleUsPerWebhook ?? Number.NaN)),
      /** Gateway CPU per delivered message with webhooks minus the run before's without, per webhook. */
      gatewayDeltaUsPerWebhook: median(hooks.map((w) => w.cpu.deltaVsBaselineUsPerWebhook ?? Number.NaN)),
    },
    deliveredCostPct: Math.round((1 - withHooks.deliveredPerSec / without.deliveredPerSec) * 1000) / 10,
    runs: runs.map(({ webhooks, result: r }) => ({
      webhooks,
      deliveredPerSec: r.deliveredPerSec,
      acceptedPerSec: r.acceptedPerSec,
      loadAvg: `${r.loadAvg.atStart[0]} → ${r.loadAvg.atEnd[0]}`,
      ...(r.webhooks
        ? {
            webhooksPerSec: `${r.webhooks.receivedPerSecDuringLoad} (${r.webhooks.producedPerSecDuringLoad} produced)`,
            backlog50to100: `${r.webhooks.backlog.at50} → ${r.webhooks.backlog.atLoadEnd}`,
            latencyP50P95Ms: `${r.webhooks.latencyMs.p50} / ${r.webhooks.latencyMs.p95}`,
          }
        : {}),
    })),
  }
  console.log('\ne2e --compare: without → with webhooks (medians)')
  console.log(
    `delivered msg/s ${without.deliveredPerSec} → ${withHooks.deliveredPerSec} (cost ${comparison.deliveredCostPct} %), accepted msg/s ${without.acceptedPerSec} → ${withHooks.acceptedPerSec}`,
  )
  console.table(comparison.runs)
  console.log(JSON.stringify(comparison, null, 2))
  return code
}
