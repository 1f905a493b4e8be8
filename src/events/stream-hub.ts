// The live stream's fan-out (GET /v1/events/stream): one bus subscription per customer with open
// streams (`sms.status.<customer>.>`), never one per connection. The relay publishes status
// changes in the stream's order (event-replay.ts); each live copy is rendered once per process
// (one query per burst of a customer's events, which also places each message.queued just before
// its message's first status change) and handed to that customer's streams. A resumed stream
// subscribes first, holds, replays from PostgreSQL, then sends what it held after the replay's
// last position; a stream never sends an event at or before the last one it sent
// (docs/streaming.md, ADR 0011).

import type { Bus, Subscription } from '../bus/bus.ts'
import { customerEvents, customerStatusEvents } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import {
  compareStream,
  type StreamCursor,
  type StreamEvent,
  type StreamPosition,
  streamAfter,
  streamLive,
} from './event-replay.ts'
import type { EventEnvelope } from './events-repository.ts'
import type { CustomerEvent } from './relay.ts'
import { type StatusEvent, statusEventsOf } from './status-events.ts'

/** Where the hub writes: an SSE response or a WebSocket. */
export interface StreamClient {
  /** Queues one event; false when the client is too far behind (the hub then closes it). */
  send(e: EventEnvelope): boolean
  /** Resolves once what was queued has left (or the client is gone): replay pages wait on it. */
  drained(): Promise<void>
  heartbeat(): void
  /** Ends the connection; `reason` is logged by the route. */
  close(reason: 'slow' | 'shutdown' | 'error'): void
}

export interface StreamHubOptions {
  db: Db
  bus: Bus
  /** Heartbeat interval, ms (default 15 000). */
  heartbeatMs?: number
  /** Live events held per stream while it replays before the replay is redone from the DB (default 1000). */
  maxBuffered?: number
  /** Events read per replay query (default 500). */
  replayPage?: number
  onError?: (err: unknown) => void
}

export interface OpenStream {
  readonly customerId: string
  close(): void
}

export interface StreamHub {
  /**
   * Attaches a client: live events of the customer (of `types`, all when null), after replaying
   * those after `after` when given. Resolves once the stream is live.
   */
  open(opts: {
    customerId: string
    types: ReadonlySet<string> | null
    after?: StreamCursor
    client: StreamClient
    /** The connection went away: the stream ends, its replay included. */
    signal?: AbortSignal
  }): Promise<OpenStream>
  /** Open streams, customers with a subscription, live events held by replaying streams, holds dropped as full. */
  stats(): { streams: number; customers: number; buffered: number; overflows: number }
  close(): Promise<void>
}

interface Conn {
  customerId: string
  types: ReadonlySet<string> | null
  client: StreamClient
  /** Live events held while replaying; null once live. */
  buffer: StreamEvent[] | null
  overflowed: boolean
  /** The position of the last event sent (or replayed): nothing at or before it is sent again. */
  last: StreamPosition | null
  closed: boolean
}

interface Channel {
  conns: Set<Conn>
  /** Its status changes and its customer events: both published by the relay, in one order. */
  sub: Promise<Subscription[]>
  pending: { src: 1 | 2; rowId: string; createdAt: string }[]
  rendering: boolean
}

export function createStreamHub(opts: StreamHubOptions): StreamHub {
  const { db, bus } = opts
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const maxBuffered = opts.maxBuffered ?? 1000
  const replayPage = opts.replayPage ?? 500
  const onError = opts.onError ?? ((err: unknown) => process.emitWarning(err as Error))
  const channels = new Map<string, Channel>()
  let heartbeat: NodeJS.Timeout | undefined
  let streams = 0
  let overflows = 0
  let closed = false

  const enqueue = (customerId: string, row: { src: 1 | 2; rowId: string; createdAt: string }) => {
    const ch = channels.get(customerId)
    if (!ch) return
    ch.pending.push(row)
    if (!ch.rendering) void renderLoop(customerId, ch)
  }

  async function renderLoop(customerId: string, ch: Channel) {
    ch.rendering = true
    try {
      while (ch.pending.length > 0 && channels.get(customerId) === ch) {
        const rows = ch.pending.splice(0, 256)
        const events = await streamLive(db, customerId, rows).catch((err: unknown) => {
          onError(new Error('live stream: rendering events failed', { cause: err }))
          return []
        })
        for (const e of events) {
          for (const c of ch.conns) deliver(c, e)
        }
      }
    } finally {
      ch.rendering = false
    }
  }

  const wanted = (c: Conn, e: EventEnvelope) => c.types === null || c.types.has(e.type)

  function deliver(c: Conn, e: StreamEvent) {
    if (c.closed) return
    if (c.buffer) {
      if (c.buffer.length >= maxBuffered) {
        c.buffer = []
        c.overflowed = true
        overflows++
      } else c.buffer.push(e)
      return
    }
    send(c, e)
  }

  /** Sends an event placed after the last one sent (a bus repeat or a replayed one is not). */
  function send(c: Conn, e: StreamEvent) {
    if (c.last && compareStream(e.stream, c.last) <= 0) return
    c.last = e.stream
    if (!wanted(c, e)) return
    const { stream: _, ...envelope } = e
    if (!c.client.send(envelope)) drop(c, 'slow')
  }

  function drop(c: Conn, reason: 'slow' | 'shutdown' | 'error') {
    if (c.closed) return
    detach(c)
    c.client.close(reason)
  }

  function detach(c: Conn) {
    if (c.closed) return
    c.closed = true
    streams--
    const ch = channels.get(c.customerId)
    if (!ch) return
    ch.conns.delete(c)
    if (ch.conns.size === 0) {
      channels.delete(c.customerId)
      void ch.sub.then((subs) => Promise.all(subs.map((s) => s.stop()))).catch(onError)
    }
    if (channels.size === 0) stopShared()
  }

  function stopShared() {
    if (heartbeat) clearInterval(heartbeat)
    heartbeat = undefined
  }

  function channelOf(customerId: string): Channel {
    let ch = channels.get(customerId)
    if (ch) return ch
    const created: Channel = {
      conns: new Set(),
      pending: [],
      rendering: false,
      sub: Promise.all([
        bus.subscribe<unknown>(customerStatusEvents(customerId), ({ data }) => {
          for (const e of statusEventsOf(data) as Partial<StatusEvent>[]) {
            if (typeof e?.id === 'string' && typeof e.created_at === 'string') {
              enqueue(customerId, { src: 1, rowId: e.id, createdAt: e.created_at })
            }
          }
        }),
        bus.subscribe<CustomerEvent>(customerEvents(customerId), ({ data }) => {
          enqueue(customerId, { src: 2, rowId: data.id, createdAt: data.created_at })
        }),
      ]),
    }
    channels.set(customerId, created)
    ch = created
    heartbeat ??= setInterval(() => {
      for (const c of channels.values()) for (const conn of c.conns) conn.client.heartbeat()
    }, heartbeatMs).unref()
    return ch
  }

  async function replay(c: Conn, from: StreamCursor) {
    for (;;) {
      c.overflowed = false
      let cursor: StreamCursor | undefined = c.last ? { since: from.since, after: c.last } : from
      while (cursor) {
        const page: Awaited<ReturnType<typeof streamAfter>> = await streamAfter(
          db,
          c.customerId,
          cursor,
          replayPage,
        )
        for (const [i, e] of page.events.entries()) {
          if (c.closed) return
          send(c, e)
          // A page is written in one go otherwise: its bytes would all wait in the socket's buffer.
          if (i % 50 === 49) await c.client.drained()
        }
        cursor = page.next
        if (cursor) await c.client.drained()
      }
      // Live events were dropped from a full hold meanwhile: they are in the DB by now.
      if (!c.overflowed) break
    }
    // What the replay did not reach (newer transactions) comes from the hold, in bus order — the
    // relay's, the stream's; what it did reach is at or before the last sent and is skipped.
    const held = c.buffer ?? []
    c.buffer = null
    for (const e of held) {
      if (c.closed) return
      send(c, e)
    }
  }

  return {
    async open({ customerId, types, after, client, signal }) {
      if (closed) throw new Error('stream hub closed')
      const c: Conn = {
        customerId,
        types,
        client,
        buffer: after ? [] : null,
        overflowed: false,
        last: null,
        closed: false,
      }
      const ch = channelOf(customerId)
      ch.conns.add(c)
      streams++
      signal?.addEventListener('abort', () => detach(c), { once: true })
      if (signal?.aborted) detach(c)
      try {
        // Subscribed before the replay reads: nothing published from now on can fall between them.
        await ch.sub
        if (after) await replay(c, after)
      } catch (err) {
        drop(c, 'error')
        throw err
      }
      return {
        customerId,
        close: () => detach(c),
      }
    },
    stats: () => {
      let buffered = 0
      for (const ch of channels.values()) for (const c of ch.conns) buffered += c.buffer?.length ?? 0
      return { streams, customers: channels.size, buffered, overflows }
    },
    async close() {
      closed = true
      for (const ch of [...channels.values()]) for (const c of [...ch.conns]) drop(c, 'shutdown')
      stopShared()
    },
  }
}
