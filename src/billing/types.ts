import type { Encoding } from '../domain/segments.ts'

export const PRIORITIES = ['otp', 'high', 'normal', 'bulk'] as const
export type Priority = (typeof PRIORITIES)[number]

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
}

export interface AcceptRequest {
  message: NewMessage
  idempotency?: { key: string; requestHash: string }
}

export type AcceptOutcome =
  | { kind: 'accepted'; statusCode: number; body: string }
  | { kind: 'replayed'; statusCode: number; body: string }
  | { kind: 'insufficient_balance'; balanceMicros: number; priceMicros: number }
  | { kind: 'idempotency_key_reused' }
  | { kind: 'customer_not_found' }

/**
 * Renders the response body stored for idempotent replay. With `null` the balance is written as
 * BALANCE_TOKEN (accept-fast.ts), which the database replaces once it knows the balance.
 */
export type RenderAccepted = (
  m: NewMessage,
  balanceAfterMicros: number | null,
) => { statusCode: number; body: string }
