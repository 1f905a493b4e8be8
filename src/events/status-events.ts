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
