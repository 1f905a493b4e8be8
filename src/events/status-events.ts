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

/** `sms.status.<customer id>.<status>`: a consumer filters one customer (`sms.status.<id>.>`) or all. */
export const statusSubject = (customerId: string, status: MessageStatus) =>
  `sms.status.${customerId}.${status}`
/** Every status event, of every customer. */
export const STATUS_EVENTS = 'sms.status.>'
/** The bus msgId of an event: a re-publish (relay restart) inside the broker's window is stored once. */
export const statusEventMsgId = (eventId: string) => `evt:${eventId}`
