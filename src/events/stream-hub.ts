// The live stream's fan-out (GET /v1/events/stream): one bus subscription per customer with open
// streams (`sms.status.<customer>.>`) plus one for dispatched jobs (`sms.deliver.>`, the
// message.queued events) while any stream is open — never one per connection. Each live copy is
// rendered once per process (one query per burst of a customer's events) and handed to that
// customer's streams. A resumed stream subscribes first, buffers, replays from PostgreSQL, then
// flushes the buffer without the events the replay already sent (docs/streaming.md, ADR 0011).

import type { Bus, Subscription } from '../bus/bus.ts'
import { customerStatusEvents, DELIVERY_JOBS } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import type { DeliveryJob } from '../domain/message.ts'
import { comparePositions, eventsAfter, liveRow, type PositionedEvent, renderRows } from './event-replay.ts'
import type { EventEnvelope, EventPosition, EventRow } from './events-repository.ts'
import type { StatusEvent } from './status-events.ts'

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
    after?: EventPosition
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
  buffer: PositionedEvent[] | null
  overflowed: boolean
  /** Ids the replay sent that a late bus copy may repeat, until `seenUntil`. */
  seen: Set<string> | null
  seenUntil: number
  closed: boolean
}

interface Channel {
  conns: Set<Conn>
  sub: Promise<Subscription>
  pending: EventRow[]
  rendering: boolean
  /** Ids recently fanned out: the bus may repeat a copy (a job published twice). */
  recent: Set<string>
}

/** Bus repeats come within moments of the first copy: a short memory per customer is enough. */
const RECENT_IDS = 1024
/** A bus copy of a replayed event arrives within this long of the replay (relay lag). */
const SEEN_FOR_MS = 5 * 60_000
/** Replayed ids remembered after the flush: the newest ones, whose bus copies may still be coming. */
const SEEN_KEPT = 2000

export function createStreamHub(opts: StreamHubOptions): StreamHub {
  const { db, bus } = opts
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const maxBuffered = opts.maxBuffered ?? 1000
  const replayPage = opts.replayPage ?? 500
  const onError = opts.onError ?? ((err: unknown) => process.emitWarning(err as Error))
  const channels = new Map<string, Channel>()
  let queuedSub: Promise<Subscription> | undefined
  let heartbeat: NodeJS.Timeout | undefined
  let streams = 0
  let overflows = 0
  let closed = false

  const enqueue = (customerId: string, row: EventRow) => {
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
        const events = await renderRows(db, customerId, rows).catch((err: unknown) => {
          onError(new Error('live stream: rendering events failed', { cause: err }))
          return []
        })
        for (const e of events) {
          if (ch.recent.has(e.id)) continue
          ch.recent.add(e.id)
          if (ch.recent.size > RECENT_IDS) ch.recent.delete(ch.recent.values().next().value as string)
          for (const c of ch.conns) deliver(c, e)
        }
      }
    } finally {
      ch.rendering = false
    }
  }

  const wanted = (c: Conn, e: EventEnvelope) => c.types === null || c.types.has(e.type)

  function deliver(c: Conn, e: PositionedEvent) {
    if (c.closed || !wanted(c, e)) return
    if (c.buffer) {
      if (c.buffer.length >= maxBuffered) {
        c.buffer = []
        c.overflowed = true
        overflows++
      } else c.buffer.push(e)
      return
    }
    if (c.seen) {
      if (Date.now() > c.seenUntil) c.seen = null
      else if (c.seen.has(e.id)) return
    }
    write(c, e)
  }

  function write(c: Conn, e: EventEnvelope) {
    const { position: _, ...envelope } = e as PositionedEvent
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
      void ch.sub.then((s) => s.stop()).catch(onError)
    }
    if (channels.size === 0) stopShared()
  }

  function stopShared() {
    if (heartbeat) clearInterval(heartbeat)
    heartbeat = undefined
    const q = queuedSub
    queuedSub = undefined
    void q?.then((s) => s.stop()).catch(onError)
  }

  function channelOf(customerId: string): Channel {
    let ch = channels.get(customerId)
    if (ch) return ch
    const created: Channel = {
      conns: new Set(),
      pending: [],
      rendering: false,
      recent: new Set(),
      sub: bus.subscribe<StatusEvent>(customerStatusEvents(customerId), ({ data }) => {
        enqueue(
          customerId,
          liveRow({
            kind: 'status',
            rowId: data.id,
            type: data.type,
            messageId: data.message_id,
            createdAt: data.created_at,
          }),
        )
      }),
    }
    channels.set(customerId, created)
    ch = created
    queuedSub ??= bus.subscribe<DeliveryJob>(DELIVERY_JOBS, ({ data }) => {
      if (channels.has(data.customer_id)) {
        enqueue(data.customer_id, liveRow({ kind: 'queued', messageId: data.id, createdAt: data.created_at }))
      }
    })
    heartbeat ??= setInterval(() => {
      for (const c of channels.values()) for (const conn of c.conns) conn.client.heartbeat()
    }, heartbeatMs).unref()
    return ch
  }

  async function replay(c: Conn, from: EventPosition) {
    const seen = new Set<string>()
    let position = from
    for (;;) {
      c.overflowed = false
      for (;;) {
        const page = await eventsAfter(db, c.customerId, position, replayPage)
        for (const [i, e] of page.entries()) {
          if (c.closed) return
          seen.add(e.id)
          if (wanted(c, e)) write(c, e)
          // A page is written in one go otherwise: its bytes would all wait in the socket's buffer.
          if (i % 50 === 49) await c.client.drained()
        }
        const last = page.at(-1)
        if (last) position = last.position
        if (page.length < replayPage) break
        await c.client.drained()
      }
      // Live events were dropped from a full buffer meanwhile: they are in the DB by now.
      if (!c.overflowed) break
    }
    const held = (c.buffer ?? [])
      .filter((e) => !seen.has(e.id))
      .sort((a, b) => comparePositions(a.position, b.position))
    c.buffer = null
    c.seen = seen.size > SEEN_KEPT ? new Set([...seen].slice(-SEEN_KEPT)) : seen
    c.seenUntil = Date.now() + SEEN_FOR_MS
    for (const e of held) {
      if (c.closed) return
      write(c, e)
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
        seen: null,
        seenUntil: 0,
        closed: false,
      }
      const ch = channelOf(customerId)
      ch.conns.add(c)
      streams++
      signal?.addEventListener('abort', () => detach(c), { once: true })
      if (signal?.aborted) detach(c)
      try {
        // Subscribed before the replay reads: nothing published from now on can fall between them.
        await Promise.all([ch.sub, queuedSub])
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
