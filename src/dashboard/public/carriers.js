// Carriers: circuit state, window use, error kinds, submit and receipt latency; one carrier in detail.

import { AnyTable, Chart, fmtNum, html, LoadError, Table, useLoad } from './ui.js'

const errorsText = (errors) =>
  Object.entries(errors ?? {})
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || 'none'

/** Providers of /v1/admin/providers joined with the live per-carrier metrics. */
function useCarriers(samples) {
  const providers = useLoad('/v1/admin/providers', [], 5000)
  const live = new Map((samples.at(-1)?.carriers ?? []).map((c) => [c.name, c]))
  const names = new Set([...(providers.data?.data ?? []).map((p) => p.name), ...live.keys()])
  const rows = [...names].sort().map((name) => ({
    name,
    provider: providers.data?.data.find((p) => p.name === name),
    live: live.get(name),
  }))
  return { rows, error: providers.error }
}

export function Carriers({ samples }) {
  const { rows, error } = useCarriers(samples)
  const last = samples.at(-1)
  return html`<section aria-labelledby="h-carriers">
    <h1 id="h-carriers">Carriers</h1>
    ${error ? html`<${LoadError} error=${error} />` : null}
    <p class="note">Receipt latency (carrier accept → receipt, all carriers): p50 ${fmtNum(last?.receipt_p50_s, 2)} s, p95 ${fmtNum(last?.receipt_p95_s, 2)} s</p>
    <${Table}
      caption="Carriers"
      rows=${rows}
      empty="No carrier is driven by this process."
      columns=${[
        {
          label: 'Carrier',
          cell: (r) => html`<a href=${`#/carriers/${encodeURIComponent(r.name)}`}>${r.name}</a>`,
        },
        { label: 'Type', cell: (r) => r.provider?.type ?? '—' },
        {
          label: 'Circuit',
          cell: (r) =>
            html`<span class=${`badge c-${r.provider?.circuit_state ?? r.live?.circuit}`}>${r.provider?.circuit_state ?? r.live?.circuit ?? '—'}</span>`,
        },
        { label: 'Healthy', cell: (r) => (r.provider ? (r.provider.healthy ? 'yes' : 'no') : '—') },
        {
          label: 'Window in use',
          cell: (r) =>
            `${fmtNum(r.provider?.in_flight ?? r.live?.window_in_use, 0)} / ${fmtNum(r.provider?.window, 0)}`,
        },
        { label: 'Submits/s', cell: (r) => fmtNum(r.live?.submits_per_s) },
        { label: 'Submit p99 ms', cell: (r) => fmtNum(r.live?.submit_p99_ms) },
        { label: 'Errors by kind', cell: (r) => errorsText(r.live?.errors) },
      ]}
    />
  </section>`
}

export function Carrier({ name, samples }) {
  const { rows } = useCarriers(samples)
  const row = rows.find((r) => r.name === name)
  const to = new Date().toISOString()
  const from = new Date(Date.now() - 86_400_000).toISOString()
  const report = useLoad(
    `/v1/admin/reports/carriers?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
  )
  const reportRows = (report.data?.data ?? []).filter((r) => (r.carrier ?? r.name ?? r.provider) === name)
  const mine = samples.map((s) => ({ t: s.t, c: s.carriers.find((c) => c.name === name) }))
  const p = row?.provider
  return html`<section aria-labelledby="h-carrier">
    <p><a href="#/carriers">← Carriers</a></p>
    <h1 id="h-carrier">Carrier ${name}</h1>
    ${!row ? html`<p class="note">This process knows no carrier named ${name}.</p>` : null}
    <dl class="facts">
      <dt>Type</dt><dd>${p?.type ?? '—'}</dd>
      <dt>Circuit</dt><dd data-circuit>${p?.circuit_state ?? row?.live?.circuit ?? '—'}</dd>
      <dt>Healthy</dt><dd>${p ? (p.healthy ? 'yes' : 'no') : '—'}</dd>
      <dt>Weight</dt><dd>${p?.weight ?? '—'}</dd>
      <dt>Countries</dt><dd>${p?.countries?.join(', ') ?? 'all'}</dd>
      <dt>Throughput limit</dt><dd>${p?.throughput_limit ?? '—'} msg/s</dd>
      <dt>Window</dt><dd>${fmtNum(p?.in_flight ?? row?.live?.window_in_use, 0)} in use of ${fmtNum(p?.window, 0)}; ${fmtNum(p?.waiting, 0)} waiting</dd>
      <dt>Submit latency</dt><dd>p50 ${fmtNum(row?.live?.submit_p50_ms)} ms, p99 ${fmtNum(row?.live?.submit_p99_ms)} ms</dd>
      <dt>Receipts matched</dt><dd>${fmtNum(row?.live?.receipts, 0)}</dd>
      <dt>Errors by kind</dt><dd>${errorsText(row?.live?.errors)}</dd>
    </dl>
    <${Chart}
      title=${`Submits to ${name}`}
      unit="msg/s"
      samples=${mine}
      series=${[{ label: 'submits', value: (s) => s.c?.submits_per_s ?? null }]}
    />
    <h2>Last 24 hours</h2>
    ${report.error ? html`<${LoadError} error=${report.error} what="The carrier report (GET /v1/admin/reports/carriers)" />` : html`<${AnyTable} caption="Carrier report, last 24 hours" rows=${reportRows} empty="No traffic in the report." />`}
  </section>`
}
