// A durable consumer of the status events that holds them unacked and applies them in passes:
// every `intervalMs` (or once `maxPending` are held) the events gathered are applied together and
// only then acked. A crash or a failed pass redelivers them: at least once, so `apply` must be
// idempotent (the rollups recompute buckets, the ClickHouse sink writes versioned rows).

import { readableItems } from '../bus/batch.ts'
import type { Bus, BusMessage, Consumer } from '../bus/bus.ts'
import { STATUS_EVENTS } from '../bus/subjects.ts'
import { isUuid, uuidV7Time } from '../domain/ids.ts'
import { type StatusEvent, statusEventsOf } from '../events/status-events.ts'

export interface HeldConsumerOptions {
  bus: Bus
  durable: string
  /** Applies one pass's events (possibly none: a pass may have work of its own); returns units done. */
  apply: (events: StatusEvent[]) => Promise<number>
  /** How often a pass runs, ms. */
  intervalMs: number
  /** Unacked events that start a pass before the interval ends. */
  maxPending: number
  /** After each pass: units applied, events acked, and the age of the oldest event acked (ms). */
  onPass?: (p: { keys: number; events: number; lagMs: number }) => void
  onError: (err: unknown) => void
}

export interface HeldConsumer {
  start(): Promise<void>
  /** One pass now over what is held. */
  pass(): Promise<{ keys: number; events: number }>
  stop(): Promise<void>
}

export function createHeldConsumer(opts: HeldConsumerOptions): HeldConsumer {
  // Each bus message with the events it carries (a batch from the relay); acked after their pass.
  let held: { m: BusMessage<unknown>; events: StatusEvent[] }[] = []
  let heldEvents = 0
  let consumer: Consumer | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> = Promise.resolve()
  let stopped = false

  async function passNow(): Promise<{ keys: number; events: number }> {
    const acks = held
    held = []
    heldEvents = 0
    const events = acks.flatMap((h) => h.events)
    try {
      const n = await opts.apply(events)
      const oldest = events.reduce((o, e) => Math.min(o, Date.parse(e.created_at)), Date.now())
      await Promise.all(acks.map((h) => h.m.ack()))
      opts.onPass?.({ keys: n, events: events.length, lagMs: Date.now() - oldest })
      return { keys: n, events: events.length }
    } catch (err) {
      // Redelivered after a pause; applying is idempotent.
      await Promise.all(acks.map((h) => h.m.nak(1000)))
      throw err
    }
  }

  const pass = () => {
    const p = running.then(passNow)
    running = p.catch(() => {})
    return p
  }

  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      pass().catch(opts.onError).finally(schedule)
    }, opts.intervalMs)
  }

  return {
    pass,
    async start() {
      stopped = false
      consumer = await opts.bus.consume<unknown>({
        durable: opts.durable,
        subject: STATUS_EVENTS,
        startAt: 'new',
        concurrency: 256,
        // Events are held, unacked, until the pass that applies them commits.
        maxAckPending: opts.maxPending * 2,
        ackWaitMs: Math.max(120_000, opts.intervalMs * 6),
        handler: async (m) => {
          const { items: events, dropped } = readableItems(m.data, readable, statusEventsOf)
          // An unreadable event would be redelivered for ever: reported and dropped, the rest applied.
          if (dropped > 0) {
            opts.onError(
              new Error(
                `${opts.durable}: ${dropped} unreadable status event(s) on ${m.subject} (${m.id}), dropped`,
              ),
            )
          }
          if (events.length === 0) {
            await m.term()
            return
          }
          held.push({ m, events })
          heldEvents += events.length
          if (heldEvents >= opts.maxPending) pass().catch(opts.onError)
        },
      })
      schedule()
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await consumer?.stop()
      await running
      // What is held is applied before stopping (a graceful stop does not redeliver a pass).
      if (held.length > 0) await pass().catch(opts.onError)
    },
  }
}

function readable(e: unknown): e is StatusEvent {
  const s = (e ?? {}) as Partial<StatusEvent>
  return (
    isUuid(s.customer_id ?? '') &&
    typeof s.message_id === 'string' &&
    uuidV7Time(s.message_id) !== null &&
    typeof s.created_at === 'string' &&
    !Number.isNaN(Date.parse(s.created_at))
  )
}
