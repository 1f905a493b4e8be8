// GET /v1/events/stream: the customer's events live, as Server-Sent Events or, on an upgrade
// request, as a WebSocket (one JSON envelope per text frame). `Last-Event-ID` (header, or the
// `last_event_id` query parameter) resumes after that event; see docs/streaming.md.

import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { Db } from '../../db/db.ts'
import { RESUME_WINDOW_MS, resumePoint, type StreamCursor } from '../../events/event-replay.ts'
import { EVENT_TYPES } from '../../events/event-types.ts'
import type { EventEnvelope } from '../../events/events-repository.ts'
import type { StreamClient, StreamHub } from '../../events/stream-hub.ts'
import { ApiError, invalidRequest } from '../errors.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody } from '../schemas.ts'

export interface EventStreamDeps {
  db: Db
  auth: Authenticator
  /** Absent when this process has no bus: the route answers 503. */
  hub: StreamHub | undefined
  /** Unsent output past which a stream is closed as too slow, bytes. */
  maxBufferBytes: number
  /** A replaying stream whose output does not drain to half the limit within this long is closed, ms. */
  stallMs: number
}

interface StreamRequest {
  customerId: string
  types: ReadonlySet<string> | null
  after: StreamCursor | undefined
}

const KNOWN_TYPES = new Set<string>(EVENT_TYPES)

const Query = Type.Object(
  {
    types: Type.Optional(
      Type.String({ maxLength: 1000, description: 'Comma-separated event types; all when absent' }),
    ),
    last_event_id: Type.Optional(
      Type.String({ maxLength: 64, description: 'Resume after this event (as the Last-Event-ID header)' }),
    ),
  },
  { additionalProperties: false },
)

function parseTypes(raw: string | undefined): ReadonlySet<string> | null {
  if (raw === undefined || raw === '') return null
  const types = raw.split(',').map((t) => t.trim())
  const unknown = types.find((t) => !KNOWN_TYPES.has(t))
  if (unknown !== undefined) throw invalidRequest(`Unknown event type: ${JSON.stringify(unknown)}`, 'types')
  return new Set(types)
}

const frame = (e: EventEnvelope) => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`

function sseClient(res: ServerResponse, maxBufferBytes: number, stallMs: number): StreamClient {
  return {
    send(e) {
      res.write(frame(e))
      return res.writableLength <= maxBufferBytes
    },
    // Below half the limit is drained enough: waiting for empty would stall on a client that is
    // merely slow, and a client that reads nothing then fills the limit and is closed by send.
    drained: () =>
      res.writableLength <= maxBufferBytes / 2 || res.destroyed
        ? Promise.resolve()
        : new Promise((resolve) => {
            const stalled = setTimeout(() => res.destroy(), stallMs)
            const done = () => {
              clearTimeout(stalled)
              res.off('drain', done)
              res.off('close', done)
              resolve()
            }
            res.once('drain', done)
            res.once('close', done)
          }),
    heartbeat: () => {
      res.write(':\n\n')
    },
    // A slow client's backlog is dropped with the socket; it resumes with Last-Event-ID.
    close: (reason) => (reason === 'shutdown' ? res.end() : res.destroy()),
  }
}

function wsClient(socket: WebSocket, maxBufferBytes: number, stallMs: number): StreamClient {
  return {
    send(e) {
      socket.send(JSON.stringify(e))
      return socket.bufferedAmount <= maxBufferBytes
    },
    drained: async () => {
      // ws has no drain event: poll the socket's buffer, as for SSE down to half the limit.
      const deadline = Date.now() + stallMs
      while (socket.readyState === socket.OPEN && socket.bufferedAmount > maxBufferBytes / 2) {
        if (Date.now() > deadline) return socket.terminate()
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    heartbeat: () => socket.ping(),
    close: (reason) => {
      if (reason === 'slow') socket.terminate()
      else socket.close(reason === 'shutdown' ? 1001 : 1011, reason)
    },
  }
}

export const eventStreamRoutes: FastifyPluginAsyncTypebox<EventStreamDeps> = async (
  app,
  { db, auth, hub, maxBufferBytes, stallMs },
) => {
  const prepared = new WeakMap<FastifyRequest, StreamRequest>()
  app.addHook('onRequest', auth.customer)

  // Everything that can be refused is refused here, before an SSE response starts or a WebSocket upgrades.
  const prepare = async (
    request: FastifyRequest<{ Querystring: { types?: string; last_event_id?: string } }>,
  ) => {
    if (!hub)
      throw new ApiError(
        503,
        'unavailable',
        'The live stream needs the bus, which this process does not have',
      )
    const customerId = principalOf(request).customerId
    const types = parseTypes(request.query.types)
    const header = request.headers['last-event-id']
    const lastId = (Array.isArray(header) ? header[0] : header) ?? request.query.last_event_id
    let after: StreamCursor | undefined
    if (lastId !== undefined && lastId !== '') {
      const point = await resumePoint(db, customerId, lastId)
      if (!point.ok) {
        throw invalidRequest(
          point.reason === 'malformed'
            ? 'Last-Event-ID is not an event id'
            : `Last-Event-ID is older than the ${RESUME_WINDOW_MS / 3600_000} h a stream can resume from: catch up with GET /v1/events, then open the stream without it`,
          'Last-Event-ID',
        )
      }
      after = point.cursor
    }
    prepared.set(request, { customerId, types, after })
  }

  const attach = async (
    request: FastifyRequest,
    client: StreamClient,
    onGone: (abort: () => void) => void,
  ) => {
    const s = prepared.get(request)
    if (!s || !hub) return false
    const gone = new AbortController()
    onGone(() => gone.abort())
    try {
      await hub.open({ ...s, ...(s.after ? { after: s.after } : {}), client, signal: gone.signal })
      return !gone.signal.aborted
    } catch (err) {
      request.log.error({ err }, 'live stream failed to open')
      client.close('error')
      return false
    }
  }

  app.route({
    method: 'GET',
    url: '/v1/events/stream',
    // A HEAD would open a stream with no body to put it in.
    exposeHeadRoute: false,
    schema: {
      summary: "The customer's events live (Server-Sent Events, or a WebSocket on upgrade)",
      tags: ['events'],
      querystring: Query,
      response: { '4xx': ErrorBody, '5xx': ErrorBody },
    },
    preHandler: prepare,
    handler: async (request, reply) => {
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      })
      res.flushHeaders()
      // Marks the end of the replay: from here on, events are live.
      const live = await attach(request, sseClient(res, maxBufferBytes, stallMs), (stop) =>
        res.once('close', stop),
      )
      if (live && !res.destroyed) res.write(': live\n\n')
    },
    wsHandler: (socket, request) => {
      void attach(request, wsClient(socket, maxBufferBytes, stallMs), (abort) => socket.once('close', abort))
    },
  })
}
