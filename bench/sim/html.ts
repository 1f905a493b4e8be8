// The self-contained HTML report of a sim run: inline SVG charts and tables, no scripts, nothing
// fetched. Opens from disk in any browser.
import { PRIORITIES } from './bodies.ts'
import type { Window } from './model.ts'
import type { SimResult } from './result.ts'
import type { Percentiles } from './stats.ts'
import { duration, errorText, summaryRows } from './summary.ts'
import { type Band, barChart, esc, type Line, lineChart } from './svg.ts'

const LANE_COLORS = { otp: '#d62728', high: '#ff7f0e', normal: '#1f77b4', bulk: '#7f7f7f' } as const

const points = (values: readonly (number | null)[], scale = 1): [number, number | null][] =>
  values.map((v, s) => [s + 0.5, v === null ? null : v * scale])

function table(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('')
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`
}

const pctRow = (name: string, p: Percentiles) => [
  name,
  p.count.toLocaleString('en-US'),
  ...(p.count ? [duration(p.p50), duration(p.p95), duration(p.p99), duration(p.max)] : ['-', '-', '-', '-']),
]

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`
}

export function renderHtml(r: SimResult): string {
  const a = r.analysis
  const d = r.options.durationS
  const floods = floodBands(r.model.floods)
  const markers = [{ x: d, label: 'load ends' }]
  const latencyLines = (series: Record<string, (number | null)[]>, colors: Record<string, string>): Line[] =>
    Object.entries(series).map(([name, v]) => ({
      name,
      color: colors[name] ?? '#000',
      points: points(v, 1 / 1000),
    }))

  const charts = [
    figure(
      lineChart({
        title: 'Throughput per second',
        xLabel: 'seconds since start',
        yLabel: 'messages / s',
        bands: floods,
        markers,
        lines: [
          { name: 'offered', color: '#999', points: points(a.series.offered), dashed: true },
          { name: 'accepted (2xx)', color: '#2a9d8f', points: points(a.series.accepted) },
          { name: 'delivered', color: '#e76f51', points: points(a.series.delivered) },
        ],
      }),
      'Offered: arrivals of the traffic model by scheduled second. Accepted: 2xx answers by the second they arrived. ' +
        'Delivered: delivered statuses by the second they were written. Shaded: whale floods.',
    ),
    figure(
      lineChart({
        title: 'Accept latency per second',
        xLabel: 'seconds since start (scheduled send time)',
        yLabel: 'ms',
        bands: floods,
        lines: [
          { name: 'p50', color: '#2a9d8f', points: points(a.series.acceptMs.p50) },
          { name: 'p95', color: '#e9c46a', points: points(a.series.acceptMs.p95) },
          { name: 'p99', color: '#e76f51', points: points(a.series.acceptMs.p99) },
        ],
      }),
      'From the scheduled send time to the 2xx answer, so waiting for a free connection on the sender counts (open loop).',
    ),
    figure(
      barChart({
        title: 'Delivery latency by priority',
        yLabel: 'seconds',
        groups: [...PRIORITIES],
        series: (['p50', 'p95', 'p99'] as const).map((q, k) => ({
          name: q,
          color: ['#8ecae6', '#219ebc', '#023047'][k]!,
          values: PRIORITIES.map((p) => a.deliveryLatencyMs.byPriority[p][q] / 1000),
        })),
      }),
      `Accept (client side, at the 2xx) → delivered, minus the simulator's ${r.receiptDelayMs} ms receipt delay.`,
    ),
    figure(
      lineChart({
        title: 'p95 delivery latency by priority, by second of acceptance',
        xLabel: 'seconds since start (accepted)',
        yLabel: 'seconds',
        bands: floods,
        markers,
        lines: latencyLines(a.series.deliveryP95ByPriority, LANE_COLORS),
      }),
      'Seconds with fewer than 5 deliveries in a lane are left out.',
    ),
    figure(
      lineChart({
        title: 'Delivery latency distribution: small customers vs whales',
        xLabel: 'seconds (accept → delivered, net)',
        yLabel: '% of messages delivered within',
        lines: [
          {
            name: 'small, whales flooding',
            color: '#e76f51',
            points: a.cdf.smallDuringFloods.map((v, q) => [v / 1000, q]),
          },
          {
            name: 'small, no flood',
            color: '#2a9d8f',
            points: a.cdf.smallOutsideFloods.map((v, q) => [v / 1000, q]),
          },
          {
            name: 'whales (bulk)',
            color: '#555',
            points: a.cdf.whales.map((v, q) => [v / 1000, q]),
            dashed: true,
          },
        ],
      }),
      'Small customers: every customer but the whales (otp/high/normal everyday traffic and their campaigns), split by ' +
        'whether a whale flood was running when the message was sent.',
    ),
    figure(
      lineChart({
        title: 'p95 delivery latency over time: small customers vs whales',
        xLabel: 'seconds since start (accepted)',
        yLabel: 'seconds',
        bands: floods,
        markers,
        lines: [
          { name: 'small customers', color: '#2a9d8f', points: points(a.series.deliveryP95Small, 1 / 1000) },
          {
            name: 'whales',
            color: '#555',
            points: points(a.series.deliveryP95Whales, 1 / 1000),
            dashed: true,
          },
        ],
      }),
      'Shaded: whale floods. A flat small-customer line through the shaded part means the floods do not hold them up.',
    ),
  ]

  const latencyTable = table(
    ['messages', 'delivered', 'p50', 'p95', 'p99', 'max'],
    [
      pctRow('all', a.deliveryLatencyMs.all),
      ...PRIORITIES.map((p) => pctRow(`priority ${p}`, a.deliveryLatencyMs.byPriority[p])),
      pctRow('small customers', a.deliveryLatencyMs.small),
      pctRow('small, whales flooding', a.deliveryLatencyMs.smallDuringFloods),
      pctRow('small bulk, whales flooding', a.deliveryLatencyMs.smallBulkDuringFloods),
      pctRow('small, no flood', a.deliveryLatencyMs.smallOutsideFloods),
      pctRow('whales', a.deliveryLatencyMs.whales),
    ],
  )
  const mixTable = table(
    ['dimension', 'sent'],
    [
      ['priority', share(a.mix.byPriority)],
      ['body', share(a.mix.byKind)],
      ['country', share(a.mix.byCountry)],
      [
        'customers',
        `${a.mix.customersHit.toLocaleString('en-US')} sent; whales ${(a.mix.whaleShare * 100).toFixed(1)} % of messages, top 10 ${(a.mix.top10Share * 100).toFixed(1)} %`,
      ],
    ],
  )
  const windowRow = (kind: string, w: Window) => [
    kind,
    `#${w.customer + 1}`,
    w.priority,
    `${w.startS}–${w.endS}`,
    String(Math.round(w.messages)),
  ]
  const windows = table(
    ['window', 'customer', 'priority', 'seconds', 'planned messages'],
    [
      ...r.model.floods.map((f) => windowRow('whale flood', f)),
      ...r.model.campaigns.map((c) => windowRow('campaign', c)),
    ],
  )
  const rec = r.reconciliation
  const recHtml =
    rec === null
      ? '<p>Not run: --target mode has no database of its own to check.</p>'
      : !rec.ran
        ? `<p>Not run: ${esc(rec.reason)}.</p>`
        : `<p class="${rec.ok ? 'ok' : 'bad'}">${rec.ok ? 'PASS' : 'FAIL'}</p>` +
          table(
            ['check', 'result', 'found', 'detail'],
            rec.checks.map((c) => [c.name, c.ok ? 'ok' : 'FAIL', String(c.found), c.detail]),
          )
  const m = r.machine
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>smsgw sim ${esc(r.startedAt)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:920px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}
td:not(:first-child){font-variant-numeric:tabular-nums}figure{margin:18px 0}figcaption{color:#555;font-size:12px}
.ok{color:#2a7d2a;font-weight:600}.bad{color:#b00020;font-weight:600}code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>smsgw traffic simulation</h1>
<p>${esc(r.startedAt)} → ${esc(r.finishedAt)}. ${r.target.mode === 'spawned' ? 'Stack started by the harness: <code>smsgw start</code> on PostgreSQL and NATS JetStream with the simulated carriers' : `Target ${esc(r.target.url)}`}.
Machine: ${m.cpus} × ${esc(m.cpuModel)}, node ${esc(m.node)}${m.revision ? `, revision ${esc(m.revision)}` : ''}. The sender, the server and PostgreSQL share this machine.</p>
<p>Model: ${r.options.durationS} s, ${r.options.rate} msg/s mean offered (open loop), ${r.options.customers.toLocaleString('en-US')} customers (Zipf s=${r.model.params.zipfS}), ${r.options.whales} whales sending ${(r.model.params.whaleShare * 100).toFixed(0)} % as bulk floods, seed ${r.model.seed}.</p>
<h2>Summary</h2>
${table(['', 'measured'], summaryRows(r))}
<h2>Charts</h2>
${charts.join('\n')}
<h2>Delivery latency</h2>
${latencyTable}
<h2>Errors</h2>
<p>${esc(errorText(r.errors))}</p>
<h2>Reconciliation</h2>
${recHtml}
<h2>Traffic sent</h2>
${mixTable}
${windows}
<h2>Notes</h2>
<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
</body></html>
`
}

/** Overlapping flood windows merged into one shaded band each. */
export function floodBands(floods: readonly Window[]): Band[] {
  const bands: (Band & { whales: number[] })[] = []
  for (const f of [...floods].sort((x, y) => x.startS - y.startS)) {
    const last = bands.at(-1)
    if (last && f.startS <= last.to) {
      last.to = Math.max(last.to, f.endS)
      last.whales.push(f.customer + 1)
    } else bands.push({ from: f.startS, to: f.endS, label: '', whales: [f.customer + 1] })
  }
  return bands.map((b) => ({
    from: b.from,
    to: b.to,
    label: `whale floods (#${b.whales.join(', #')}), ${b.from}–${b.to} s`,
  }))
}

function share(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((x, y) => x + y, 0) || 1
  return Object.entries(counts)
    .map(([k, n]) => `${k} ${((n / total) * 100).toFixed(1)} %`)
    .join(', ')
}
