// Inbound and unroutable messages, usage reports: endpoints other parts of smsgw add; a 404 shows
// "not available" and the panel lights up once the server has them.

import { useState } from '/dashboard/vendor/preact-htm.js'
import { AnyTable, field, fmtAny, html, LoadError, useLoad } from './ui.js'

export function Inbound() {
  const [routed, setRouted] = useState('false')
  const path = `/v1/admin/inbound_messages?limit=100${routed === 'all' ? '' : `&routed=${routed}`}`
  const list = useLoad(path, [], 10_000)
  return html`<section aria-labelledby="h-inbound">
    <h1 id="h-inbound">Inbound messages</h1>
    <div class="row" role="group" aria-label="Which inbound messages">
      ${[
        ['false', 'Unroutable (no customer)'],
        ['true', 'Routed'],
        ['all', 'All'],
      ].map(
        ([v, label]) =>
          html`<button type="button" aria-pressed=${routed === v} onClick=${() => setRouted(v)}>${label}</button>`,
      )}
    </div>
    ${list.error ? html`<${LoadError} error=${list.error} what="Inbound messages (GET /v1/admin/inbound_messages)" />` : html`<${AnyTable} caption="Inbound messages" rows=${list.data?.data} empty=${list.loading ? 'Loading…' : 'No inbound message.'} />`}
  </section>`
}

const dayAgo = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 16)
const now = () => new Date(Date.now() + 60_000).toISOString().slice(0, 16)

/** Horizontal bars (<meter>, so no chart library and readable by screen readers). */
function Bars({ caption, rows, value, label }) {
  const max = Math.max(1, ...rows.map((r) => Number(value(r)) || 0))
  return html`<figure class="bars">
    <figcaption>${caption}</figcaption>
    ${rows.map(
      (r, i) => html`<div class="bar" key=${i}>
        <span class="bar-label">${label(r)}</span>
        <meter min="0" max=${max} value=${Number(value(r)) || 0} aria-label=${`${label(r)}: ${fmtAny(value(r))}`}></meter>
        <span>${fmtAny(value(r))}</span>
      </div>`,
    )}
  </figure>`
}

const cost = (r) => r.cost?.amount ?? r.cost ?? r.messages ?? 0

export function Usage() {
  const [range, setRange] = useState({ from: dayAgo(), to: now() })
  const q = `from=${encodeURIComponent(new Date(`${range.from}Z`).toISOString())}&to=${encodeURIComponent(new Date(`${range.to}Z`).toISOString())}`
  const customers = useLoad(`/v1/admin/reports/customers?${q}&order=cost&limit=20`)
  const carriers = useLoad(`/v1/admin/reports/carriers?${q}`)
  const submit = (e) => {
    e.preventDefault()
    setRange({ from: field(e.currentTarget, 'from'), to: field(e.currentTarget, 'to') })
  }
  const top = customers.data?.data ?? []
  return html`<section aria-labelledby="h-usage">
    <h1 id="h-usage">Usage</h1>
    <form class="row" onSubmit=${submit}>
      <label>From (UTC) <input type="datetime-local" name="from" defaultValue=${range.from} required /></label>
      <label>To (UTC) <input type="datetime-local" name="to" defaultValue=${range.to} required /></label>
      <button type="submit">Show</button>
    </form>
    <h2>Top customers</h2>
    ${
      customers.error
        ? html`<${LoadError} error=${customers.error} what="The customer report (GET /v1/admin/reports/customers)" />`
        : html`${top.length ? html`<${Bars} caption="Cost per customer" rows=${top} value=${cost} label=${(r) => r.name ?? r.customer_id ?? r.id} />` : null}
            <${AnyTable} caption="Top customers by cost" rows=${top} empty=${customers.loading ? 'Loading…' : 'No traffic in this range.'} />`
    }
    <h2>Carriers</h2>
    ${carriers.error ? html`<${LoadError} error=${carriers.error} what="The carrier report (GET /v1/admin/reports/carriers)" />` : html`<${AnyTable} caption="Per carrier" rows=${carriers.data?.data} empty=${carriers.loading ? 'Loading…' : 'No traffic in this range.'} />`}
  </section>`
}
