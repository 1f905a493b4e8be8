import type { NewMessage } from '../domain/message.ts'

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

/** A request the accept transaction charged: what it writes (message, ledger, outbox, idempotency). */
export interface Charged {
  message: NewMessage
  balanceAfter: number
  rendered: { statusCode: number; body: string }
  idempotency: AcceptRequest['idempotency']
}
