// Every metric the Grafana dashboard (deploy/grafana/*.json) and the alert rules
// (deploy/prometheus/*.yml) name exists in the /metrics of the real gateway: `smsgw start` (every
// role in one process, so every metric family is registered), after a message was delivered,
// a webhook was sent and a send was refused for want of balance, so histograms and labelled
// counters have samples too. Labels used in selectors and groupings must appear on those samples.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import {
  deployExpressions,
  type Exposition,
  familyOf,
  labelUses,
  metricNames,
  parseExposition,
} from '../helpers/ops-files.ts'
import { waitFor } from '../helpers/wait.ts'
import { startReceiver } from '../helpers/webhook-receiver.ts'

const ADMIN = 'adm_e2e_metric_names_0123456789'
/** Made by Prometheus itself when it scrapes, not by the gateway. */
const SCRAPE_SERIES = new Set(['up'])
/** Labels Prometheus adds to every scraped sample. */
const TARGET_LABELS = new Set(['job', 'instance'])
/** Families that only get samples on failures this run does not cause; declared is enough. */
const FAILURE_ONLY = new Set(['smsgw_dead_letters_total', 'smsgw_submit_errors_total'])

/** Problems of one expression against the exposition: unknown metrics, metrics without samples, unknown labels. */
function problems(expr: string, exp: Exposition): string[] {
  const found: string[] = []
  const labelsOf = new Map<string, Set<string>>()
  for (const name of metricNames(expr)) {
    if (SCRAPE_SERIES.has(name)) continue
    const family = familyOf(name, exp.types)
    if (!family) {
      found.push(`${name}: not in /metrics`)
      continue
    }
    const labels = exp.samples.get(name)
    if (labels) labelsOf.set(name, labels)
    else if (!FAILURE_ONLY.has(family))
      found.push(`${name}: declared but no sample after a delivered message`)
  }
  const { selectors, grouping } = labelUses(expr)
  for (const [name, used] of selectors) {
    const have = labelsOf.get(name)
    if (!have) continue
    for (const l of used)
      if (!have.has(l) && !TARGET_LABELS.has(l)) found.push(`${name}{${l}}: no sample has label ${l}`)
  }
  const anyLabels = new Set([...labelsOf.values()].flatMap((s) => [...s]))
  if (labelsOf.size > 0)
    for (const l of grouping)
      if (!anyLabels.has(l) && !TARGET_LABELS.has(l))
        found.push(`by/on (${l}): no metric of the expression has it`)
  return found
}

describe('deploy/: every metric a dashboard panel or an alert rule names is in /metrics', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-metric-names-'))
  let gateway: Gateway | undefined
  after(async () => {
    await gateway?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('finds them all, with samples and the labels used', async () => {
    const refs = deployExpressions()
    const files = new Set(refs.map((r) => r.file))
    assert.ok(
      [...files].some((f) => f.startsWith('grafana/')),
      'a Grafana dashboard is read',
    )
    assert.ok(
      [...files].some((f) => f.startsWith('prometheus/')),
      'a rule file is read',
    )
    assert.ok(refs.length >= 20, `expressions read: ${refs.length}`)

    const rx = await startReceiver()
    try {
      gateway = await startGateway({
        dataDir,
        adminToken: ADMIN,
        env: { LOG_LEVEL: 'warn', SMSGW_SIM_RECEIPT_DELAY_MS: '10', SMSGW_WEBHOOK_ALLOW_INSECURE: 'true' },
      })
      const { call, ok, fundedCustomer } = apiClient(gateway.url)
      // One message's worth of balance: the second send is refused with 402.
      const { apiKey: key } = await fundedCustomer(ADMIN, '0.0100')
      await ok('POST', '/v1/webhook_endpoints', key, { url: rx.url('/metrics-test') })
      const msg = await ok('POST', '/v1/messages', key, { to: '+14155550123', from: 'ACME', body: 'hi' })
      // The balance is spent: the next send is refused with 402.
      const refused = await call('POST', '/v1/messages', key, {
        to: '+14155550123',
        from: 'ACME',
        body: 'hi',
      })
      assert.equal(refused.status, 402)
      await waitFor(
        () =>
          rx
            .on('/metrics-test')
            .some((r) => r.event.data.id === msg.id && r.event.type === 'message.delivered'),
        'the delivered webhook',
        30_000,
      )

      const res = await fetch(`${gateway.url}/metrics`)
      assert.equal(res.status, 200)
      const exposition = parseExposition(await res.text())
      const found = refs.flatMap((r) => problems(r.expr, exposition).map((p) => `${r.file}: ${p}`))
      assert.deepEqual([...new Set(found)], [])
      // The test reads what it claims to: the names exist, so a typo would be reported above.
      const named = new Set(refs.flatMap((r) => metricNames(r.expr)))
      for (const n of ['smsgw_outbox_backlog', 'smsgw_delivery_seconds_bucket', 'smsgw_webhook_backlog'])
        assert.ok(named.has(n), `${n} is used by deploy/`)
    } finally {
      await rx.close()
    }
  })
})
