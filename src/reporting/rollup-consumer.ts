// The rollup role: status events (sms.status.>, a durable of its own) name the (customer, minute)
// buckets to recompute; every `intervalMs` the buckets gathered are recomputed from the message
// log together with the buckets of newly accepted messages, and only then are the events acked.
// A crash before the recompute commits redelivers them: at least once, and a recompute is
// idempotent, so nothing is counted twice (ADR 0014).

import type { Bus } from '../bus/bus.ts'
import type { Db } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'
import type { StatusEvent } from '../events/status-events.ts'
import { bucketOf, type RollupKey } from './buckets.ts'
import { createHeldConsumer, type HeldConsumer } from './held-consumer.ts'
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

export type RollupConsumer = HeldConsumer

export function createRollupConsumer(opts: RollupConsumerOptions): RollupConsumer {
  return createHeldConsumer({
    bus: opts.bus,
    durable: ROLLUP_DURABLE,
    intervalMs: opts.intervalMs ?? 10_000,
    maxPending: opts.maxPending ?? 100_000,
    ...(opts.onPass ? { onPass: opts.onPass } : {}),
    onError: opts.onError,
    // recomputeBuckets de-duplicates the keys.
    apply: async (events) =>
      (await recomputeBuckets(opts.db, events.map(keyOfEvent))) + (await sweepAccepted(opts.db)),
  })
}
