// The simulator's HTTP carrier: accepts the HTTP connector's POST {id,to,from,body,encoding} on any
// path, answers {carrier_ids:[…]}, and POSTs receipts {carrier_id,status,error_code,done_at} to dlrUrl,
// signed per Standard Webhooks when it has a webhookSecret (as a real carrier configured with one).
// GET /health and GET /counters (the SimCounters snapshot, both endpoints) are for operators.

import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signWebhook } from '../webhook-auth.ts'
import type { Behavior, Outcome } from './behavior.ts'
import type { CounterStore } from './counters.ts'
import type { SimOptions } from './options.ts'
import type { SubmitLog, SubmitRecord } from './submit-log.ts'
import type { Timers } from './timers.ts'

export interface HttpSimDeps {
  options: () => SimOptions
  behavior: Behavior
  counters: CounterStore
  timers: Timers
  log: SubmitLog
}

export interface HttpSim {
  listen(port: number, host: string): Promise<number>
  /** POSTs an MO message to inboundUrl; resolves on a 2xx. */
  sendInbound(m: { from: string; to: string; body: string }): Promise<void>
  close(): Promise<void>
}

const MAX_BODY = 64 * 1024
const DLR_ATTEMPTS = 3
const ERROR_CODE: Record<Outcome, string | null> = { delivered: null, undelivered: '001', expired: '002' }

interface SubmitBody {
  id: string
  to: string
  from: string
  body: string
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY) chunks.push(chunk)
    })
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseSubmit(text: string): SubmitBody | null {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof json !== 'object' || json === null) return null
  const o = json as Record<string, unknown>
  const { id, to, from, body } = o
  if (typeof id !== 'string' || id === '' || typeof to !== 'string' || typeof from !== 'string') return null
  if (typeof body !== 'string') return null
  return { id, to, from, body }
}

function send(
  res: ServerResponse,
  status: number,
  json: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(json))
}

export function createHttpSim(deps: HttpSimDeps): HttpSim {
  const { options, behavior, counters, timers } = deps
  const c = () => counters.c

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Only a broken request stream gets here; answer if we still can, like a real gateway would.
      if (!res.headersSent) send(res, 500, { error: { code: 'internal', message: String(err) } })
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/health') return send(res, 200, { ok: !options().outage })
    // What reconciliation (`smsgw reconcile --sim`) reads: duplicates here are double sends.
    if (req.method === 'GET' && req.url === '/counters') return send(res, 200, counters.snapshot())
    if (req.method !== 'POST') return send(res, 405, { error: { code: 'method_not_allowed' } })
    c().submitsReceived++
    if (options().outage) {
      c().rejected.outage++
      // A carrier that is down does not answer: the connector sees a reset connection.
      req.socket.destroy()
      return
    }
    const text = await readBody(req)
    const submit = text === null ? null : parseSubmit(text)
    if (!submit) {
      c().rejected.invalid++
      return send(res, 400, { error: { code: 'invalid_request', message: 'expected {id,to,from,body}' } })
    }
    const verdict = behavior.decide('http')
    await new Promise<void>((resolve) => timers.after(behavior.latency(), resolve))
    const record: SubmitRecord = {
      protocol: 'http',
      messageId: submit.id,
      to: submit.to,
      from: submit.from,
      text: submit.body,
      verdict,
    }
    if (verdict !== 'accepted') deps.log.add(record)
    if (verdict === 'throttled') {
      c().rejected.throttled++
      return send(res, 429, { error: { code: 'throttled' } }, { 'retry-after': '1' })
    }
    if (verdict === 'transient') {
      c().rejected.transient++
      return send(res, 503, { error: { code: 'unavailable' } })
    }
    if (verdict === 'permanent') {
      c().rejected.permanent++
      return send(res, 400, { error: { code: 'invalid_destination' } })
    }
    const carrierId = randomBytes(8).toString('hex')
    c().accepted++
    counters.recordCopy(submit.id)
    deps.log.add({ ...record, carrierId })
    send(res, 200, { carrier_ids: [carrierId] })
    if (options().receipts) scheduleReceipt(carrierId)
  }

  function scheduleReceipt(carrierId: string): void {
    const outcome = behavior.outcome()
    timers.after(behavior.receiptDelay(), () => {
      const url = options().dlrUrl
      if (url === null) {
        c().receiptsFailed++
        return
      }
      const body = {
        carrier_id: carrierId,
        status: outcome,
        error_code: ERROR_CODE[outcome],
        done_at: new Date(),
      }
      void postWithRetry(url, JSON.stringify(body), `msg_${carrierId}`, 1).then((ok) => {
        if (ok) c().receiptsSent++
        else c().receiptsFailed++
      })
    })
  }

  /** Headers of one webhook attempt: signed (a fresh timestamp each attempt) when a secret is set. */
  function webhookHeaders(id: string, body: string): Record<string, string> {
    const secret = options().webhookSecret
    return { 'content-type': 'application/json', ...(secret ? signWebhook(secret, id, body) : {}) }
  }

  async function postWithRetry(url: string, body: string, id: string, attempt: number): Promise<boolean> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: webhookHeaders(id, body),
        body,
        signal: AbortSignal.timeout(5000),
      })
      await res.arrayBuffer()
      if (res.ok) return true
    } catch {
      // Unreachable endpoint: retried below like any other failure.
    }
    if (attempt >= DLR_ATTEMPTS) return false
    await new Promise<void>((resolve) => timers.after(100 * 2 ** attempt, resolve))
    return postWithRetry(url, body, id, attempt + 1)
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
      })
    },
    async sendInbound(m) {
      const url = options().inboundUrl
      if (url === null) throw new Error('inboundUrl is not set')
      const body = JSON.stringify({ ...m, received_at: new Date() })
      const res = await fetch(url, {
        method: 'POST',
        headers: webhookHeaders(`msg_${randomBytes(12).toString('hex')}`, body),
        body,
        signal: AbortSignal.timeout(5000),
      })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`inboundUrl answered HTTP ${res.status}`)
      c().inboundSent++
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
