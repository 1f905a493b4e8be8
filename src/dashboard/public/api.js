// Talking to the gateway: the admin token lives in sessionStorage (gone when the tab closes) and
// goes out as an Authorization header only — never in a URL, a cookie or a log line.

const KEY = 'smsgw.admin_token'

export const session = {
  token: () => sessionStorage.getItem(KEY),
  save: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
}

let onUnauthorized = () => {}
/** What the page does when the gateway refuses the token (back to the login form). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn
}

export class HttpError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error?.code
    this.param = body?.error?.param
  }
}

/** A random UUID (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** A JSON call; non-2xx throws HttpError (401 also logs out). POSTs carry an Idempotency-Key. */
export async function api(method, path, body) {
  const headers = { authorization: `Bearer ${session.token() ?? ''}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method === 'POST') headers['idempotency-key'] = uuid()
  const res = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = await res.json().catch(() => null)
  if (res.status === 401) onUnauthorized()
  if (!res.ok) throw new HttpError(res.status, json)
  return json
}

/**
 * Follows a server-sent-events URL with the token in a header (EventSource cannot send one):
 * calls onEvent(name, data) per event, reconnects after a drop, until the returned stop().
 */
export function follow(path, onEvent, onState = () => {}) {
  const ctl = new AbortController()
  let retry
  const run = async () => {
    try {
      const res = await fetch(path, {
        headers: { authorization: `Bearer ${session.token() ?? ''}`, accept: 'text/event-stream' },
        cache: 'no-store',
        signal: ctl.signal,
      })
      if (res.status === 401) return onUnauthorized()
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
      onState('live')
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += value
        let cut = buf.indexOf('\n\n')
        while (cut >= 0) {
          const block = buf.slice(0, cut)
          buf = buf.slice(cut + 2)
          let event = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data) onEvent(event, JSON.parse(data))
          cut = buf.indexOf('\n\n')
        }
      }
    } catch (err) {
      if (ctl.signal.aborted) return
      console.warn('metrics stream', err)
    }
    if (ctl.signal.aborted) return
    onState('reconnecting')
    retry = setTimeout(run, 2000)
  }
  run()
  return () => {
    clearTimeout(retry)
    ctl.abort()
  }
}
