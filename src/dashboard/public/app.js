// The dashboard shell: login, navigation (hash routes, so a reload keeps the view), and the one
// live metrics stream every view reads.

import { html, render, useEffect, useState } from '/dashboard/vendor/preact-htm.js'
import { api, follow, HttpError, session, whenUnauthorized } from './api.js'
import { Carrier, Carriers } from './carriers.js'
import { Customer, Customers } from './customers.js'
import { Message, Messages } from './messages.js'
import { Overview } from './overview.js'
import { Inbound, Usage } from './reports.js'

const KEEP = 300

function Login({ onIn }) {
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    const input = e.currentTarget.elements.namedItem('token')
    session.save(input.value.trim())
    setBusy(true)
    try {
      await api('GET', '/dashboard/api/session')
      input.value = ''
      onIn()
    } catch (err) {
      session.clear()
      setError(
        err instanceof HttpError && err.status === 401 ? 'That admin token is not valid.' : err.message,
      )
    } finally {
      setBusy(false)
    }
  }
  return html`<main id="main" class="login">
    <form onSubmit=${submit} class="card" aria-labelledby="h-login">
      <h1 id="h-login">smsgw operator dashboard</h1>
      <p class="note">Sign in with the admin token (<code>SMSGW_ADMIN_TOKEN</code>; <code>npm start</code> prints it). It is kept in this tab only.</p>
      <label>Admin token <input name="token" type="password" required autocomplete="current-password" autofocus /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </form>
  </main>`
}

const NAV = [
  ['overview', 'Overview'],
  ['carriers', 'Carriers'],
  ['customers', 'Customers'],
  ['messages', 'Messages'],
  ['inbound', 'Inbound'],
  ['usage', 'Usage'],
]

function useHash() {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash
}

function route(hash) {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?')
  const [view = 'overview', id] = path.split('/').map(decodeURIComponent)
  return { view: view || 'overview', id, query }
}

function Shell({ onOut }) {
  const { view, id, query } = route(useHash())
  const [samples, setSamples] = useState([])
  const [stream, setStream] = useState('connecting')
  useEffect(
    () =>
      follow(
        '/dashboard/api/metrics/stream',
        (event, data) => {
          if (event === 'history') setSamples(data.slice(-KEEP))
          else if (event === 'sample') setSamples((s) => [...s.slice(1 - KEEP), data])
        },
        setStream,
      ),
    [],
  )
  // Move focus to the new view's heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    const h1 = document.querySelector('main h1')
    if (h1) {
      h1.tabIndex = -1
      h1.focus()
    }
  }, [view, id])
  let page
  if (view === 'overview') page = html`<${Overview} samples=${samples} stream=${stream} />`
  else if (view === 'carriers')
    page = id ? html`<${Carrier} name=${id} samples=${samples} />` : html`<${Carriers} samples=${samples} />`
  else if (view === 'customers') page = id ? html`<${Customer} id=${id} key=${id} />` : html`<${Customers} />`
  else if (view === 'messages')
    page = id ? html`<${Message} id=${id} key=${id} />` : html`<${Messages} query=${query} />`
  else if (view === 'inbound') page = html`<${Inbound} />`
  else if (view === 'usage') page = html`<${Usage} />`
  else page = html`<h1>Not found</h1><p><a href="#/overview">Overview</a></p>`
  return html`<a class="skip" href="#main" onClick=${(e) => {
    e.preventDefault()
    document.getElementById('main')?.focus()
  }}>Skip to content</a>
    <header>
      <span class="brand">smsgw</span>
      <nav aria-label="Sections">
        <ul>
          ${NAV.map(([v, label]) => html`<li><a href=${`#/${v}`} aria-current=${v === view ? 'page' : undefined}>${label}</a></li>`)}
        </ul>
      </nav>
      <button type="button" class="logout" onClick=${onOut}>Sign out</button>
    </header>
    <main id="main" tabindex="-1">${page}</main>`
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(session.token()))
  useEffect(
    () =>
      whenUnauthorized(() => {
        session.clear()
        setSignedIn(false)
      }),
    [],
  )
  if (!signedIn) return html`<${Login} onIn=${() => setSignedIn(true)} />`
  return html`<${Shell} onOut=${() => {
    session.clear()
    setSignedIn(false)
  }} />`
}

render(html`<${App} />`, document.getElementById('app'))
