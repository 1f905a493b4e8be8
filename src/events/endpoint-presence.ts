// Which customers have an enabled webhook endpoint, known in each webhooks process (ADR 0021), so
// that an event of a customer with none is dropped without a statement: only they receive webhooks,
// and a status_callback_url is signed with an endpoint's secret (no endpoint, no callback: ADR 0010).
//
// No event committed after an endpoint's creation is lost to a stale set. The set is read again
// every `refreshMs` (and at once when an api process announces a change on ENDPOINT_CHANGES); an
// event dropped for its customer is remembered until the next read that started after the drop:
// the event committed before it reached this process, so an endpoint created before the event is
// in that read; the read finds the customer, and the event is queued after all. A customer still
// without one then had none when the event committed: the event is forgotten. A set not read for
// `staleMs` (the database unreachable) is not trusted: every event is queued by statement, as when
// nothing is known.

import type { Bus } from '../bus/bus.ts'
import { ENDPOINT_CHANGES } from '../bus/subjects.ts'
import type { Queryable } from '../db/db.ts'

export interface EndpointPresenceOptions<E> {
  db: Queryable
  /** Full re-read period, ms (default 1000). */
  refreshMs?: number
  /** A set older than this is not trusted, ms (default 3000). */
  staleMs?: number
  /** Most dropped events kept; beyond it events are not dropped (queued by statement). Default 50 000. */
  maxRemembered?: number
  /** Dropped events whose customer now has an endpoint: queue them. */
  replay: (events: E[]) => void
  onError: (err: unknown) => void
  now?: () => number
}

export interface EndpointPresence<E> {
  /**
   * Takes the event if its customer is known to have no enabled endpoint (the caller then queues
   * nothing); false when it must be queued by statement (an endpoint, or nothing known).
   */
  drop(customerId: string, event: E): boolean
  /**
   * An endpoint of this customer was created or enabled somewhere: its events are queued by
   * statement from now on, and the set is read again now (events dropped before are replayed).
   */
  changed(customerId?: string): void
  start(): Promise<void>
  stop(): Promise<void>
  /** Reads the set now (tests). */
  refresh(): Promise<void>
  /** Events held for a late endpoint (metrics, tests). */
  readonly remembered: number
}

interface Dropped<E> {
  at: number
  event: E
}

export function createEndpointPresence<E>(opts: EndpointPresenceOptions<E>): EndpointPresence<E> {
  const refreshMs = opts.refreshMs ?? 1000
  const staleMs = opts.staleMs ?? 3000
  const maxRemembered = opts.maxRemembered ?? 50_000
  const now = opts.now ?? (() => performance.now())
  let present = new Set<string>()
  /** When the read behind `present` started; -Infinity before the first one. */
  let readStartedAt = Number.NEGATIVE_INFINITY
  const dropped = new Map<string, Dropped<E>[]>()
  let remembered = 0
  let timer: NodeJS.Timeout | undefined
  let reading: Promise<void> | undefined
  let again = false
  let stopped = true

  async function read() {
    const startedAt = now()
    const { rows } = await opts.db.query<{ customer_id: string }>(
      `SELECT DISTINCT customer_id::text FROM webhook_endpoints WHERE enabled AND deleted_at IS NULL`,
      [],
      { name: 'webhook_endpoint_customers' },
    )
    present = new Set(rows.map((r) => r.customer_id))
    readStartedAt = startedAt
    // An event dropped before this read started committed before it too: if its customer has an
    // endpoint now, that endpoint may predate the event (queued after all); if not, the customer
    // had none when the event committed (forgotten).
    const late: E[] = []
    for (const [customerId, list] of dropped) {
      const keep = list.filter((d) => d.at >= startedAt)
      if (present.has(customerId)) for (const d of list) if (d.at < startedAt) late.push(d.event)
      remembered -= list.length - keep.length
      if (keep.length === 0) dropped.delete(customerId)
      else dropped.set(customerId, keep)
    }
    if (late.length > 0) opts.replay(late)
  }

  /** One read at a time; a change announced during a read gets a read of its own after it. */
  function refresh(): Promise<void> {
    if (reading) {
      again = true
      return reading
    }
    reading = read()
      .catch((err) => opts.onError(err))
      .finally(() => {
        reading = undefined
        if (again && !stopped) {
          again = false
          void refresh()
        }
      })
    return reading
  }

  function schedule() {
    if (stopped) return
    timer = setTimeout(() => {
      refresh().finally(schedule)
    }, refreshMs)
    timer.unref()
  }

  return {
    drop(customerId, event) {
      const t = now()
      if (present.has(customerId) || t - readStartedAt > staleMs || remembered >= maxRemembered) return false
      const list = dropped.get(customerId)
      if (list) list.push({ at: t, event })
      else dropped.set(customerId, [{ at: t, event }])
      remembered++
      return true
    },
    changed(customerId) {
      if (customerId) present.add(customerId)
      if (!stopped) void refresh()
    },
    async start() {
      stopped = false
      await refresh()
      schedule()
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await reading
    },
    refresh,
    get remembered() {
      return remembered
    },
  }
}

/** Announces an endpoint created or enabled to every webhooks process. */
export function announceEndpointChange(bus: Pick<Bus, 'broadcast'>, customerId: string): Promise<void> {
  return bus.broadcast(ENDPOINT_CHANGES, { customerId })
}
