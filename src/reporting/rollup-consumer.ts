// The rollup role: status events (sms.status.>, a durable of its own) name the (customer, minute)
// buckets to recompute; every `intervalMs` the buckets gathered are recomputed from the message
// log together with the buckets of newly accepted messages, and only then are the events acked.
// A crash before the recompute commits redelivers them: at least once, and a recompute is
// idempotent, so nothing is counted twice (ADR 0014).

import type { Bus, BusMessage, Consumer } from '../bus/bus.ts'
import { STATUS_EVENTS } from '../bus/subjects.ts'
import type { Db } from '../db/db.ts'
import { isUuid, uuidV7Time } from '../domain/ids.ts'
import type { StatusEvent } from '../events/status-events.ts'
import { bucketOf, keyString, type RollupKey } from './buckets.ts'
import { recomputeBuckets, sweepAccepted } from './rollups.ts'

export const ROLLUP_DURABLE = 'rollups'

/** The bucket a status event touches: its message's (customer, minute of created_at), which the v7 id carries. */
export function keyOfEvent(e: Pick<StatusEvent, 'customer_id' | 'message_id'>): RollupKey {
  return { customerId: e.customer_id, minute: bucketOf(uuidV7Time(e.message_id) ?? 0, 'minute') }
}

export interface RollupConsumerOptions {
  db: Db
  bus: Bus
  /** How often gathered buckets are recomputed, ms (default 10 000: usage is fresh within ~15 s). */
  intervalMs?: number
  /** Unacked events that start a recompute before the interval ends (default 100 000). */
  maxPending?: number
  /** After each pass: buckets recomputed, events acked, and the age of the oldest event acked (ms). */
  onPass?: (p: { keys: number; events: number; lagMs: number }) => void
  onError: (err: unknown) => void
}

export interface RollupConsumer {
  start(): Promise<void>
  /** One pass now: recompute what is gathered, sweep new accepts, ack. */
  pass(): Promise<{ keys: number; events: number }>
  stop(): Promise<void>
}

export function createRollupConsumer(opts: RollupConsumerOptions): RollupConsumer {
  const intervalMs = opts.intervalMs ?? 10_000
  const maxPending = opts.maxPending ?? 100_000
  let keys = new Map<string, RollupKey>()
  let held: BusMessage<StatusEvent>[] = []
  let consumer: Consumer | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> = Promise.resolve()
  let stopped = false

  const add = (e: StatusEvent) => {
    const k = keyOfEvent(e)
    keys.set(keyString(k), k)
  }

  async function passNow(): Promise<{ keys: number; events: number }> {
    const take = [...keys.values()]
    const acks = held
    keys = new Map()
    held = []
    try {
      const n = (await recomputeBuckets(opts.db, take)) + (await sweepAccepted(opts.db))
      const oldest = acks.reduce((o, m) => Math.min(o, Date.parse(m.data.created_at)), Date.now())
      await Promise.all(acks.map((m) => m.ack()))
      opts.onPass?.({ keys: n, events: acks.length, lagMs: Date.now() - oldest })
      return { keys: n, events: acks.length }
    } catch (err) {
      // Redelivered after a pause; the recompute is idempotent.
      await Promise.all(acks.map((m) => m.nak(1000)))
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
    }, intervalMs)
  }

  return {
    pass,
    async start() {
      stopped = false
      consumer = await opts.bus.consume<StatusEvent>({
        durable: ROLLUP_DURABLE,
        subject: STATUS_EVENTS,
        startAt: 'new',
        concurrency: 256,
        // Events are held, unacked, until the pass that recomputes their buckets commits.
        maxAckPending: maxPending * 2,
        ackWaitMs: Math.max(120_000, intervalMs * 6),
        handler: async (m) => {
          const e = m.data
          if (
            !isUuid(e?.customer_id) ||
            uuidV7Time(e.message_id) === null ||
            Number.isNaN(Date.parse(e.created_at))
          ) {
            opts.onError(new Error(`rollups: unreadable status event on ${m.subject} (${m.id}), dropped`))
            await m.term()
            return
          }
          add(e)
          held.push(m)
          if (held.length >= maxPending) pass().catch(opts.onError)
        },
      })
      schedule()
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await consumer?.stop()
      await running
      // What is gathered is committed before stopping (a graceful stop does not redeliver a pass).
      if (held.length > 0 || keys.size > 0) await pass().catch(opts.onError)
    },
  }
}
