// Customers: search, create, and one customer's credit, keys, limits, suspension and ledger
// (all through the v1 admin API, like the CLI).

import { useState } from '/dashboard/vendor/preact-htm.js'
import { api } from './api.js'
import { field, fmtMoney, fmtTime, html, LoadError, Status, Table, useAction, useLoad } from './ui.js'

const customerColumns = [
  { label: 'Name', cell: (c) => html`<a href=${`#/customers/${c.id}`}>${c.name}</a>` },
  { label: 'Balance', cell: (c) => fmtMoney(c.balance) },
  { label: 'Status', cell: (c) => html`<${Status} status=${c.status} />` },
  { key: 'tier', label: 'Tier' },
  { key: 'rate_limit_mps', label: 'Rate limit (msg/s)' },
  { label: 'Created', cell: (c) => fmtTime(c.created_at) },
]

function CreateCustomer({ onCreated }) {
  const act = useAction()
  const submit = (e) => {
    e.preventDefault()
    const form = e.currentTarget
    const body = { name: field(form, 'name') }
    const mps = field(form, 'rate_limit_mps')
    const tier = field(form, 'tier')
    if (mps) body.rate_limit_mps = Number(mps)
    if (tier) body.tier = tier
    act
      .run(() => api('POST', '/v1/admin/customers', body), 'Customer created.')
      .then((c) => {
        if (c) {
          form.reset()
          onCreated()
        }
      })
  }
  const created = act.result
  return html`<form class="card" onSubmit=${submit} aria-labelledby="h-create">
    <h2 id="h-create">New customer</h2>
    <div class="row">
      <label>Name <input name="name" required maxlength="200" autocomplete="off" /></label>
      <label>Rate limit (msg/s) <input name="rate_limit_mps" type="number" min="1" inputmode="numeric" /></label>
      <label>Tier <input name="tier" pattern="[a-z0-9_-]+" autocomplete="off" /></label>
      <button type="submit" disabled=${act.busy}>Create customer</button>
    </div>
    ${act.view}
    ${
      created?.api_key
        ? html`<div class="secret" role="alert">
            <p>API key of <a href=${`#/customers/${created.id}`}>${created.name}</a> — shown once, copy it now:</p>
            <output data-api-key>${created.api_key}</output>
          </div>`
        : null
    }
  </form>`
}

export function Customers() {
  const [q, setQ] = useState('')
  const [created, setCreated] = useState(0)
  const path = q ? `/dashboard/api/customers?q=${encodeURIComponent(q)}` : '/v1/admin/customers?limit=100'
  const list = useLoad(path, [created])
  return html`<section aria-labelledby="h-customers">
    <h1 id="h-customers">Customers</h1>
    <form role="search" class="row" onSubmit=${(e) => {
      e.preventDefault()
      setQ(field(e.currentTarget, 'q'))
    }}>
      <label>Name or id <input name="q" type="search" autocomplete="off" /></label>
      <button type="submit">Search</button>
    </form>
    ${list.error ? html`<${LoadError} error=${list.error} />` : html`<${Table} caption=${q ? `Customers matching “${q}”` : 'Customers'} rows=${list.data?.data} columns=${customerColumns} empty=${list.loading ? 'Loading…' : 'No customer.'} />`}
    <${CreateCustomer} onCreated=${() => setCreated((n) => n + 1)} />
  </section>`
}

function Credit({ id, onDone }) {
  const act = useAction()
  const submit = (e) => {
    e.preventDefault()
    const form = e.currentTarget
    const body = { amount: field(form, 'amount'), reference: field(form, 'reference') || null }
    act
      .run(
        () => api('POST', `/v1/admin/customers/${id}/credits`, body),
        (r) => `Credited; balance ${fmtMoney(r.balance)}.`,
      )
      .then((r) => {
        if (r) {
          form.reset()
          onDone()
        }
      })
  }
  return html`<form class="card" onSubmit=${submit} aria-labelledby="h-credit">
    <h2 id="h-credit">Credit</h2>
    <div class="row">
      <label>Amount <input name="amount" required inputmode="decimal" pattern="[0-9]+(\\.[0-9]{1,6})?" placeholder="50.00" /></label>
      <label>Reference <input name="reference" maxlength="200" placeholder="inv-1" autocomplete="off" /></label>
      <button type="submit" disabled=${act.busy}>Add credit</button>
    </div>
    ${act.view}
  </form>`
}

function Limits({ c, onDone }) {
  const act = useAction()
  const submit = (e) => {
    e.preventDefault()
    const form = e.currentTarget
    const ips = field(form, 'allowed_ips')
    const body = {
      name: field(form, 'name'),
      tier: field(form, 'tier'),
      rate_limit_mps: Number(field(form, 'rate_limit_mps')),
      allowed_ips: ips ? ips.split(/[\s,]+/).filter(Boolean) : null,
    }
    act.run(() => api('PATCH', `/v1/admin/customers/${c.id}`, body), 'Saved.').then((r) => r && onDone())
  }
  return html`<form class="card" onSubmit=${submit} aria-labelledby="h-limits" key=${c.id}>
    <h2 id="h-limits">Settings and limits</h2>
    <div class="row">
      <label>Name <input name="name" required maxlength="200" defaultValue=${c.name} /></label>
      <label>Tier <input name="tier" required pattern="[a-z0-9_-]+" defaultValue=${c.tier} /></label>
      <label>Rate limit (msg/s) <input name="rate_limit_mps" type="number" min="1" required defaultValue=${c.rate_limit_mps} /></label>
      <label>Allowed IPs (any if empty) <input name="allowed_ips" defaultValue=${(c.allowed_ips ?? []).join(', ')} placeholder="10.0.0.0/8, 192.0.2.7" /></label>
      <button type="submit" disabled=${act.busy}>Save</button>
    </div>
    ${act.view}
  </form>`
}

function Keys({ id }) {
  const keys = useLoad(`/dashboard/api/customers/${id}/api_keys`)
  const act = useAction()
  const issue = () =>
    act
      .run(() => api('POST', `/v1/admin/customers/${id}/api_keys`, {}), 'Key issued.')
      .then(() => keys.reload())
  const revoke = (k) => {
    if (!window.confirm(`Revoke key ${k.prefix}…? Requests with it fail at once.`)) return
    act
      .run(() => api('DELETE', `/v1/admin/customers/${id}/api_keys/${k.id}`), 'Key revoked.')
      .then(() => keys.reload())
  }
  return html`<div class="card">
    <h2>API keys</h2>
    ${keys.error ? html`<${LoadError} error=${keys.error} />` : null}
    <${Table}
      caption="API keys"
      rows=${keys.data?.data}
      empty="No key."
      columns=${[
        { label: 'Prefix', cell: (k) => html`<code>${k.prefix}…</code>` },
        { label: 'Allowed IPs', cell: (k) => k.allowed_ips?.join(', ') ?? 'any' },
        { label: 'Created', cell: (k) => fmtTime(k.created_at) },
        {
          label: 'Revoked',
          cell: (k) =>
            k.revoked_at
              ? fmtTime(k.revoked_at)
              : html`<button type="button" onClick=${() => revoke(k)}>Revoke</button>`,
        },
      ]}
    />
    <button type="button" onClick=${issue} disabled=${act.busy}>Issue a new key</button>
    ${act.view}
    ${act.result?.api_key ? html`<div class="secret" role="alert"><p>New key — shown once:</p><output>${act.result.api_key}</output></div>` : null}
  </div>`
}

export function Customer({ id }) {
  const c = useLoad(`/v1/admin/customers/${id}`)
  const ledger = useLoad(`/v1/admin/customers/${id}/ledger?limit=100`, [c.data])
  const act = useAction()
  if (c.error) return html`<p><a href="#/customers">← Customers</a></p><${LoadError} error=${c.error} />`
  const cu = c.data
  if (!cu) return html`<p>Loading…</p>`
  const next = cu.status === 'suspended' ? 'active' : 'suspended'
  const toggle = () => {
    if (next === 'suspended' && !window.confirm(`Suspend ${cu.name}? Its keys get 403 until reactivated.`))
      return
    act
      .run(
        () => api('PATCH', `/v1/admin/customers/${id}`, { status: next }),
        next === 'active' ? 'Reactivated.' : 'Suspended.',
      )
      .then(() => c.reload())
  }
  return html`<section aria-labelledby="h-customer">
    <p><a href="#/customers">← Customers</a></p>
    <h1 id="h-customer">${cu.name}</h1>
    <dl class="facts">
      <dt>Id</dt><dd><code>${cu.id}</code></dd>
      <dt>Balance</dt><dd data-balance>${fmtMoney(cu.balance)}</dd>
      <dt>Status</dt><dd><${Status} status=${cu.status} /></dd>
      <dt>Created</dt><dd>${fmtTime(cu.created_at)}</dd>
    </dl>
    <p class="row">
      <button type="button" class=${next === 'suspended' ? 'danger' : ''} onClick=${toggle}>${next === 'suspended' ? 'Suspend' : 'Reactivate'}</button>
      <a href=${`#/messages?customer_id=${cu.id}`}>Messages of this customer</a>
    </p>
    ${act.view}
    <${Credit} id=${id} onDone=${() => c.reload()} />
    <${Limits} c=${cu} onDone=${() => c.reload()} />
    <${Keys} id=${id} />
    <h2>Ledger (oldest first, first 100 entries)</h2>
    ${ledger.error ? html`<${LoadError} error=${ledger.error} />` : null}
    <${Table}
      caption="Ledger entries"
      rows=${ledger.data?.data}
      columns=${[
        { key: 'kind', label: 'Kind' },
        { label: 'Amount', cell: (e) => fmtMoney(e.amount) },
        { label: 'Balance after', cell: (e) => fmtMoney(e.balance_after) },
        { label: 'Reference', cell: (e) => e.reference ?? e.message_id ?? '—' },
        { label: 'At', cell: (e) => fmtTime(e.created_at) },
      ]}
    />
  </section>`
}
