import type { NewBatch } from '../domain/batch.ts'
import type { NewMessage } from '../domain/message.ts'

export interface AcceptRequest {
  message: NewMessage
  idempotency?: { key: string; requestHash: string }
}

/**
 * A batch: many messages of one customer charged all or nothing, as ONE item of an accept group
 * (one decision against the balance, one statement with the group's other requests).
 */
export interface BulkAcceptRequest {
  batch: NewBatch
  /** Its accepted messages, each with `batchId` = batch.id and createdAt = batch.createdAt. */
  messages: NewMessage[]
  idempotency?: { key: string; requestHash: string }
  /** The response, complete before the charge (it carries no balance), stored for replay. */
  response: { statusCode: number; body: string }
}

/** What the group committer of the biller carries. */
export type AcceptItem = AcceptRequest | BulkAcceptRequest

export const isBulk = (i: AcceptItem): i is BulkAcceptRequest => 'batch' in i
export const customerOf = (i: AcceptItem): string => (isBulk(i) ? i.batch.customerId : i.message.customerId)
export const messagesOf = (i: AcceptItem): NewMessage[] => (isBulk(i) ? i.messages : [i.message])
/** What the item charges in total, micro-units. */
export const priceOf = (i: AcceptItem): number => (isBulk(i) ? i.batch.priceMicros : i.message.priceMicros)
/** The idempotency identity of an item inside a group: customer + key. */
export const keyOf = (i: AcceptItem): string | undefined =>
  i.idempotency ? `${customerOf(i)}\n${i.idempotency.key}` : undefined

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
