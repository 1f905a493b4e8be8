// The message vocabulary every module shares: priorities (lanes), a message ready to be charged,
// and the delivery job the dispatcher hands to workers over the bus.

import type { Encoding } from './segments.ts'

export const PRIORITIES = ['otp', 'high', 'normal', 'bulk'] as const
export type Priority = (typeof PRIORITIES)[number]

/** Lanes in release order: otp and high are always offered credits before normal and bulk. */
export const LANES: readonly Priority[] = PRIORITIES

/** A validated, priced message ready to be charged and recorded. */
export interface NewMessage {
  id: string
  createdAt: Date
  customerId: string
  apiKeyId: string | null
  to: string
  from: string
  body: string
  country: string
  encoding: Encoding
  segments: number
  priceMicros: number
  currency: string
  priority: Priority
  clientReference: string | null
  statusCallbackUrl: string | null
  metadata: Record<string, string> | null
  batchId: string | null
  expiresAt: Date
  sendAt: Date | null
  status: 'queued' | 'scheduled'
  /** The accept commit's W3C traceparent, kept in the outbox row; set only while tracing is on (ADR 16). */
  traceParent?: string
}

/** The work a delivery worker needs, carried on the bus so it does not re-read the message. */
export interface DeliveryJob {
  id: string
  created_at: string
  customer_id: string
  to: string
  from: string
  body: string
  encoding: 'GSM-7' | 'UCS-2'
  segments: number
  price_micros: number
  priority: Priority
  country: string
  expires_at: string
  /**
   * Whether the message has a status_callback_url (the webhooks role then need not read the
   * message for its message.queued). Absent in jobs of an older dispatcher: unknown.
   */
  status_callback?: boolean
}
