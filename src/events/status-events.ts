// The status event: one per status change of a message, published on the bus once the change is
// committed. Webhooks, the live stream and rollups consume these (ADR 0009).

import type { MessageStatus } from '../domain/status.ts'

export interface StatusEvent {
  /** message_events.id: stable, the de-duplication key of every consumer. */
  id: string
  type: `message.${MessageStatus}`
  message_id: string
  customer_id: string
  status: MessageStatus
  detail: Record<string, unknown> | null
  /** When the change was recorded, ISO. */
  created_at: string
}

/**
 * What the relay publishes on `sms.status.<customer>.batch`: consecutive status events of one
 * customer, in the relay's order — one bus message for many events (ADR 0009). A payload that is
 * a single event (a relay from before batches, a test) is read as a batch of one.
 */
export interface StatusEventBatch {
  events: StatusEvent[]
}

/** The events a status payload carries, unchecked: each consumer validates what it reads. */
export function statusEventsOf(data: unknown): unknown[] {
  const events = (data as Partial<StatusEventBatch> | null)?.events
  return Array.isArray(events) ? events : [data]
}
