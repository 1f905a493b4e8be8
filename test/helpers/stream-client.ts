// Clients of GET /v1/events/stream for tests: an SSE reader over node:http and a WebSocket one.

import { type IncomingMessage, request } from 'node:http'
import WebSocket from 'ws'

export interface StreamedEvent {
  id: string
  type: string
  created_at: string
  data: { id: string; status: string }
}

export interface SseStream {
  status: number
  /** Events in arrival order; the `id:` and `event:` lines are checked against the envelope. */
  events: StreamedEvent[]
  /** Comment lines seen, without the colon: '' for a heartbeat, ' live' once the replay is over. */
  comments: string[]
  /** True once the stream said it is live (after its replay). */
  live(): boolean
  /** True once the server ended the response. */
  ended(): boolean
  close(): void
}

/** Opens an SSE stream and parses it as it arrives; resolves once the response headers are in. */
export function openSse(
  base: string,
  path: string,
  headers: Record<string, string>,
  opts: { paused?: boolean } = {},
): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      let buf = ''
      let ended = false
      const s: SseStream = {
        status: res.statusCode ?? 0,
        events: [],
        comments: [],
        live: () => s.comments.includes(' live'),
        ended: () => ended,
        close: () => req.destroy(),
      }
      res.setEncoding('utf8')
      const done = () => {
        ended = true
      }
      res.on('end', done)
      res.on('close', done)
      res.on('error', done)
      // A client that reads nothing: the socket stays paused and its buffers fill up.
      if (opts.paused) {
        res.socket.pause()
        res.socket.on('close', done)
        return resolve(s)
      }
      res.on('data', (chunk: string) => {
        buf += chunk
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) s.comments.push(line.slice(1))
            else {
              const i = line.indexOf(': ')
              fields[line.slice(0, i)] = line.slice(i + 2)
            }
          }
          if (fields.data === undefined) continue
          const e = JSON.parse(fields.data) as StreamedEvent
          if (e.id !== fields.id || e.type !== fields.event) {
            throw new Error(`frame fields disagree with the envelope: ${block}`)
          }
          s.events.push(e)
        }
      })
      resolve(s)
    })
    req.end()
  })
}

export interface WsStream {
  events: StreamedEvent[]
  pings: number
  close(): void
}

/** Opens the stream as a WebSocket; rejects with the HTTP status when the upgrade is refused. */
export function openWs(base: string, path: string, headers: Record<string, string>): Promise<WsStream> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${path}`, { headers })
    const s: WsStream = { events: [], pings: 0, close: () => ws.close() }
    ws.on('message', (data) => s.events.push(JSON.parse(String(data)) as StreamedEvent))
    ws.on('ping', () => s.pings++)
    ws.on('open', () => resolve(s))
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    ws.on('error', reject)
  })
}
