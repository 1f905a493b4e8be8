// Message search (by id, or a customer's messages by recipient, status, reference) and one
// message with its timeline, followed until it is final.

import { useEffect } from '/dashboard/vendor/preact-htm.js'
import { field, fmtMoney, fmtTime, html, LoadError, Status, Table, useLoad } from './ui.js'

const STATUSES = [
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'rejected',
  'expired',
  'canceled',
  'unknown',
]

export function Messages({ query }) {
  const params = new URLSearchParams(query)
  const search = [...params].length ? `/dashboard/api/messages?${params}` : null
  const found = useLoad(search)
  const submit = (e) => {
    e.preventDefault()
    const form = e.currentTarget
    const next = new URLSearchParams()
    for (const k of ['id', 'customer_id', 'to', 'status', 'client_reference']) {
      const v = field(form, k)
      if (v) next.set(k, v)
    }
    location.hash = `#/messages?${next}`
  }
  const rows = found.data?.data
  return html`<section aria-labelledby="h-messages">
    <h1 id="h-messages">Messages</h1>
    <form role="search" class="card" onSubmit=${submit} key=${query}>
      <p class="note">A message id, or a customer id with optional filters.</p>
      <div class="row">
        <label>Message id <input name="id" defaultValue=${params.get('id') ?? ''} autocomplete="off" /></label>
        <label>Customer id <input name="customer_id" defaultValue=${params.get('customer_id') ?? ''} autocomplete="off" /></label>
        <label>To <input name="to" defaultValue=${params.get('to') ?? ''} placeholder="+14155550123" autocomplete="off" /></label>
        <label>Status
          <select name="status">
            <option value="">any</option>
            ${STATUSES.map((s) => html`<option value=${s} selected=${params.get('status') === s}>${s}</option>`)}
          </select>
        </label>
        <label>Client reference <input name="client_reference" defaultValue=${params.get('client_reference') ?? ''} autocomplete="off" /></label>
        <button type="submit">Search messages</button>
      </div>
    </form>
    ${found.error ? html`<${LoadError} error=${found.error} />` : null}
    ${
      search && !found.error
        ? html`<${Table}
            caption="Messages found"
            rows=${rows}
            empty=${found.loading ? 'Searching…' : 'No message found.'}
            columns=${[
              { label: 'Id', cell: (m) => html`<a href=${`#/messages/${m.id}`}><code>${m.id}</code></a>` },
              { label: 'Status', cell: (m) => html`<${Status} status=${m.status} />` },
              { key: 'to', label: 'To' },
              { key: 'from', label: 'From' },
              { key: 'priority', label: 'Priority' },
              {
                label: 'Customer',
                cell: (m) =>
                  html`<a href=${`#/customers/${m.customer_id}`}>${m.customer_id.slice(0, 8)}…</a>`,
              },
              { label: 'Created', cell: (m) => fmtTime(m.created_at) },
            ]}
          />`
        : null
    }
  </section>`
}

export function Message({ id }) {
  const m = useLoad(`/dashboard/api/messages/${encodeURIComponent(id)}`, [], 0)
  const msg = m.data
  // Until it is final, read it again every second (the timeline grows as receipts arrive).
  useEffect(() => {
    if (!msg || msg.is_final) return
    const t = setTimeout(() => m.reload(), 1000)
    return () => clearTimeout(t)
  })
  if (m.error) return html`<p><a href="#/messages">← Messages</a></p><${LoadError} error=${m.error} />`
  if (!msg) return html`<p>Loading…</p>`
  return html`<section aria-labelledby="h-message">
    <p><a href="#/messages">← Messages</a></p>
    <h1 id="h-message">Message <code>${msg.id}</code></h1>
    <p aria-live="polite">Status: <${Status} status=${msg.status} /> ${msg.is_final ? '(final)' : '(following…)'}</p>
    <dl class="facts">
      <dt>Customer</dt><dd><a href=${`#/customers/${msg.customer_id}`}><code>${msg.customer_id}</code></a></dd>
      <dt>To</dt><dd>${msg.to} (${msg.country})</dd>
      <dt>From</dt><dd>${msg.from}</dd>
      <dt>Body</dt><dd class="body">${msg.body ?? '—'}</dd>
      <dt>Encoding</dt><dd>${msg.encoding}, ${msg.segments} segment(s)</dd>
      <dt>Price</dt><dd>${fmtMoney(msg.price)}</dd>
      <dt>Priority</dt><dd>${msg.priority}</dd>
      <dt>Client reference</dt><dd>${msg.client_reference ?? '—'}</dd>
      <dt>Batch</dt><dd>${msg.batch_id ?? '—'}</dd>
      <dt>Expires</dt><dd>${fmtTime(msg.expires_at)}</dd>
    </dl>
    <h2>Timeline</h2>
    <ol class="timeline" aria-label="Events of the message">
      ${msg.events.map(
        (e, i) => html`<li key=${i}>
          <${Status} status=${e.status} /> <time datetime=${e.created_at}>${fmtTime(e.created_at)}</time>
          ${e.detail ? html`<code class="detail">${JSON.stringify(e.detail)}</code>` : null}
        </li>`,
      )}
    </ol>
  </section>`
}
