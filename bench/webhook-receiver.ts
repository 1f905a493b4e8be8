// The customers' side of `e2e --webhooks`: one node:http server on 127.0.0.1 standing in for every
// benchmark customer's webhook endpoint (`POST /hooks/<n>`, n = the customer's index). It verifies
// every request with the `standardwebhooks` library and the endpoint's secret, answers 204, and
// records each event once (de-duplicated by `webhook-id`): the envelope's `created_at` (the status
// change) and the time it was received. Run as a child process (`node --import tsx
// bench/webhook-receiver.ts` with PORT/HOST) so its CPU is not the bench's nor the gateway's.
//
//   PUT /_secrets   {"<n>": "whsec_…", …}   secrets of the endpoints (the gateway shows them once)
//   GET /_stats     counters, and per unique event: created_at ms, received ms, type, endpoint n
//   GET /health     200
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Webhook } from 'standardwebhooks'

const port = Number(process.env.PORT ?? 0)
const host = process.env.HOST ?? '127.0.0.1'

const verifiers = new Map<string, Webhook>()
const seen = new Set<string>()
const createdMs: number[] = []
const receivedMs: number[] = []
const types: string[] = []
const endpoints: number[] = []
const counters = { requests: 0, duplicates: 0, verifyFailed: 0, unknownEndpoint: 0, badEnvelope: 0 }

// Wall-clock time with sub-millisecond resolution (the gateway's created_at is wall-clock too).
const nowMs = () => performance.timeOrigin + performance.now()

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function answer(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function hook(req: IncomingMessage, res: ServerResponse, endpoint: string): Promise<void> {
  const body = await readBody(req)
  const at = nowMs()
  counters.requests++
  const verifier = verifiers.get(endpoint)
  if (!verifier) {
    counters.unknownEndpoint++
    return answer(res, 404)
  }
  let event: { id?: unknown; type?: unknown; created_at?: unknown }
  try {
    event = verifier.verify(body, req.headers as Record<string, string>) as typeof event
  } catch {
    counters.verifyFailed++
    return answer(res, 400)
  }
  const id = req.headers['webhook-id']
  const created = typeof event.created_at === 'string' ? Date.parse(event.created_at) : Number.NaN
  if (typeof id !== 'string' || Number.isNaN(created)) {
    counters.badEnvelope++
    return answer(res, 204)
  }
  if (seen.has(id)) {
    counters.duplicates++
    return answer(res, 204)
  }
  seen.add(id)
  createdMs.push(created)
  receivedMs.push(at)
  types.push(typeof event.type === 'string' ? event.type : '?')
  endpoints.push(Number(endpoint))
  answer(res, 204)
}

const server = createServer((req, res) => {
  const url = req.url ?? '/'
  const done = (p: Promise<void>) =>
    p.catch((err: unknown) => {
      if (!res.headersSent) answer(res, 500, { error: String(err) })
    })
  if (req.method === 'POST' && url.startsWith('/hooks/')) return done(hook(req, res, url.slice(7)))
  if (req.method === 'PUT' && url === '/_secrets') {
    return done(
      readBody(req).then((text) => {
        for (const [endpoint, secret] of Object.entries(JSON.parse(text) as Record<string, string>)) {
          verifiers.set(endpoint, new Webhook(secret))
        }
        answer(res, 204)
      }),
    )
  }
  if (req.method === 'GET' && url === '/_stats') {
    return answer(res, 200, { ...counters, unique: seen.size, createdMs, receivedMs, types, endpoints })
  }
  if (req.method === 'GET' && url === '/_count') return answer(res, 200, { unique: seen.size, ...counters })
  if (req.method === 'GET' && url === '/health') return answer(res, 200, { status: 'ok' })
  answer(res, 404)
})
server.keepAliveTimeout = 60_000

const close = () => {
  server.close()
  server.closeAllConnections()
  process.exit(0)
}
process.once('SIGTERM', close)
process.once('SIGINT', close)
// The parent keeps an IPC channel open; when it goes away (even on SIGKILL) so do we.
process.once('disconnect', close)

server.listen(port, host)
