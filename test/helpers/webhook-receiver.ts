import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  path: string
  headers: Record<string, string>
  body: string
  /** When it arrived (Date.now()). */
  receivedAt: number
  /** The envelope, parsed. */
  event: { id: string; type: string; created_at: string; data: { id?: string; status?: string } }
}

/** What a path answers: a status code, or 'hang' (never answers until the receiver closes). */
export type Behavior = (
  attemptOfThisEvent: number,
  req: IncomingMessage,
) => number | 'hang' | { status: number; headers: Record<string, string> }

/** A real HTTP receiver on 127.0.0.1 recording every request, with per-path behavior (default 200). */
export async function startReceiver() {
  const received: Received[] = []
  const behaviors = new Map<string, Behavior>()
  const attempts = new Map<string, number>()
  const hanging = new Set<ServerResponse>()
  let connections = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const path = req.url ?? '/'
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      )
      const key = `${path} ${headers['webhook-id']}`
      const n = (attempts.get(key) ?? 0) + 1
      attempts.set(key, n)
      const answer = (behaviors.get(path) ?? (() => 200))(n, req)
      if (answer === 'hang') {
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
        return
      }
      const { status, headers: extra } = typeof answer === 'number' ? { status: answer, headers: {} } : answer
      if (status >= 200 && status < 300) {
        let event: Received['event']
        try {
          event = JSON.parse(body)
        } catch {
          event = { id: '', type: '', created_at: '', data: {} }
        }
        received.push({ path, headers, body, event, receivedAt: Date.now() })
      }
      res.writeHead(status, extra).end()
    })
  })
  server.on('connection', () => {
    connections++
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    /** Requests answered 2xx on `path`. */
    on: (path: string) => received.filter((r) => r.path === path),
    setBehavior: (path: string, b: Behavior) => behaviors.set(path, b),
    hangingCount: () => hanging.size,
    /** Answers every hanging request with `status` (they are not recorded as received). */
    release: (status = 503) => {
      for (const res of hanging) res.writeHead(status).end()
      hanging.clear()
    },
    connections: () => connections,
    /** Down: the port refuses connections (open ones are cut) until resume(). */
    async pause() {
      for (const res of hanging) res.destroy()
      hanging.clear()
      const closed = new Promise<void>((r) => server.close(() => r()))
      server.closeAllConnections()
      await closed
    },
    async resume() {
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>
