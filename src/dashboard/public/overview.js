// Live traffic: throughput, latency, lanes and queue depth, from the metrics stream.

import { Chart, fmtNum, html, Table } from './ui.js'

function Stat({ label, value, unit }) {
  return html`<div class="stat"><span class="label">${label}</span><span class="value">${value}</span><span class="unit">${unit}</span></div>`
}

export function Overview({ samples, stream }) {
  const last = samples.at(-1)
  return html`<section aria-labelledby="h-overview">
    <h1 id="h-overview">Overview</h1>
    <p class="note">Live from this process's metrics, sampled every second (${stream}).</p>
    <div class="stats">
      <${Stat} label="Accepted" value=${fmtNum(last?.accepted_per_s)} unit="msg/s" />
      <${Stat} label="Delivered" value=${fmtNum(last?.delivered_per_s)} unit="msg/s" />
      <${Stat} label="Accept p99" value=${fmtNum(last?.accept_p99_ms)} unit="ms" />
      <${Stat} label="Delivery p50" value=${fmtNum(last?.delivery_p50_s, 2)} unit="s" />
      <${Stat} label="Accepted since start" value=${fmtNum(last?.totals.accepted, 0)} unit="messages" />
      <${Stat} label="Rejected requests" value=${fmtNum(last?.rejected_per_s)} unit="/s" />
    </div>
    <div class="charts">
      <${Chart}
        title="Throughput"
        unit="msg/s"
        samples=${samples}
        series=${[
          { label: 'accepted', value: (s) => s.accepted_per_s },
          { label: 'dispatched', value: (s) => s.dispatched_per_s },
          { label: 'delivered', value: (s) => s.delivered_per_s },
        ]}
      />
      <${Chart}
        title="Accept latency (POST /v1/messages, last 10 s)"
        unit="ms"
        samples=${samples}
        series=${[
          { label: 'p50', value: (s) => s.accept_p50_ms },
          { label: 'p99', value: (s) => s.accept_p99_ms },
        ]}
      />
      <${Chart}
        title="Delivery latency (accept → delivered receipt, last 10 s)"
        unit="s"
        samples=${samples}
        series=${[
          { label: 'p50', value: (s) => s.delivery_p50_s },
          { label: 'p95', value: (s) => s.delivery_p95_s },
        ]}
      />
    </div>
    <h2>Lanes and queue depth</h2>
    <${Table}
      caption="Messages waiting per priority lane"
      rows=${last?.lanes ?? []}
      empty="No dispatcher or worker runs in this process: see each process's /metrics or Grafana."
      columns=${[
        { key: 'lane', label: 'Lane' },
        { label: 'In the outbox', cell: (r) => fmtNum(r.outbox, 0) },
        { label: 'On the bus, not settled', cell: (r) => fmtNum(r.pending, 0) },
      ]}
    />
    <p class="note">Receipts parked (no message matched yet): ${fmtNum(last?.totals.receipts_parked, 0)}</p>
  </section>`
}
