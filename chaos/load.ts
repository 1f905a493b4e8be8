// The chaos load: POST /v1/messages at a steady rate across a set of customers, the way a careful
// client sends — every message carries an Idempotency-Key (also its client_reference), and a
// connection error, timeout, 429 or 5xx is retried with the same key until a deadline, moving to the
// next api process. Every 202's message id and every give-up is recorded.
import type { Customer } from '../bench/admin-client.ts'
import { makePayload } from '../bench/payloads.ts'
import { sleep } from './processes.ts'

export interface LoadSpec {
  apiUrls: string[]
  customers: Customer[]
  pickCustomer: () => number
  ratePerSec: number
  durationS: number
  /** Makes idempotency keys unique to the scenario. */
  keyPrefix: string
  /** How long one message is retried before the client gives up on it, ms. Default 90 000. */
  giveUpAfterMs?: number
  /** Messages in flight (including retrying) at most; beyond it sending pauses. Default 512. */
  maxInFlight?: number
}

export interface SentMessage {
  key: string
  customerId: string
  firstAttemptAt: number
  attempts: number
  /** Epoch ms of the 202. */
  acceptedAt?: number
  /** The message id from the 202. */
  id?: string
  /** Why the client gave up (non-retryable answer or deadline). */
  error?: string
}

export interface LoadRun {
  readonly startedAt: number
  readonly sent: SentMessage[]
  /** Retried attempts so far (connection errors, timeouts, 5xx, 429). */
  retries(): number
  /** Resolves when the sending period is over and every message is accepted or given up on. */
  done: Promise<void>
  /** Ends the sending period now (messages already started still finish). */
  stopSending(): void
}

const ATTEMPT_TIMEOUT_MS = 10_000

async function attempt(
  url: string,
  apiKey: string,
  key: string,
  body: string,
): Promise<{ status: number; json: unknown; retryAfterMs?: number } | { error: string }> {
  try {
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = text.slice(0, 200)
    }
    const ra = Number(res.headers.get('retry-after'))
    return { status: res.status, json, ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}) }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    return { error: e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message) }
  }
}

export function startLoad(spec: LoadSpec): LoadRun {
  const giveUpAfterMs = spec.giveUpAfterMs ?? 90_000
  const maxInFlight = spec.maxInFlight ?? 512
  const sent: SentMessage[] = []
  const startedAt = Date.now()
  let retries = 0
  let inFlight = 0
  let sending = true
  const running = new Set<Promise<void>>()

  async function deliver(m: SentMessage, apiKey: string, body: string, seq: number): Promise<void> {
    let backoff = 100
    for (let n = 0; ; n++) {
      const url = spec.apiUrls[(seq + n) % spec.apiUrls.length]!
      m.attempts++
      const r = await attempt(url, apiKey, m.key, body)
      if ('status' in r && r.status === 202) {
        const id = (r.json as { id?: unknown }).id
        if (typeof id !== 'string') {
          m.error = `202 without an id: ${JSON.stringify(r.json).slice(0, 200)}`
          return
        }
        m.id = id
        m.acceptedAt = Date.now()
        return
      }
      const retryable = 'error' in r || r.status === 429 || r.status >= 500
      if (!retryable) {
        const code = (r.json as { error?: { code?: string } })?.error?.code ?? ''
        m.error = `HTTP ${r.status} ${code}`.trim()
        return
      }
      if (Date.now() - m.firstAttemptAt > giveUpAfterMs) {
        m.error = `gave up after ${m.attempts} attempts: ${'error' in r ? r.error : `HTTP ${r.status}`}`
        return
      }
      retries++
      const wait = 'retryAfterMs' in r && r.retryAfterMs ? r.retryAfterMs : backoff * (0.5 + Math.random())
      backoff = Math.min(2000, backoff * 2)
      await sleep(wait)
    }
  }

  const launch = (seq: number) => {
    const c = spec.pickCustomer()
    const customer = spec.customers[c]!
    const key = `${spec.keyPrefix}-${seq}`
    const body = JSON.stringify({ ...makePayload(Math.random), client_reference: key })
    const m: SentMessage = { key, customerId: customer.id, firstAttemptAt: Date.now(), attempts: 0 }
    sent.push(m)
    inFlight++
    const p = deliver(m, customer.apiKey, body, seq).finally(() => {
      inFlight--
      running.delete(p)
    })
    running.add(p)
  }

  let stopTicker: () => void = () => {}
  const ticking = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (Date.now() - startedAt) / 1000
      if (!sending || elapsed >= spec.durationS) {
        clearInterval(timer)
        resolve()
        return
      }
      // Steady rate; after a pause (max in flight) catch up at most a fifth of a second at once.
      const due = Math.floor(elapsed * spec.ratePerSec) - sent.length
      const n = Math.min(due, Math.ceil(spec.ratePerSec / 5), maxInFlight - inFlight)
      for (let i = 0; i < n; i++) launch(sent.length)
    }, 10)
    stopTicker = () => {
      sending = false
    }
  })
  const done = (async () => {
    await ticking
    while (running.size > 0) await Promise.all([...running])
  })()
  return {
    startedAt,
    sent,
    retries: () => retries,
    done,
    stopSending: () => stopTicker(),
  }
}
