// Every subject smsgw uses on the bus, and the durable consumers that read them: the one place to
// look up what travels where (ADR 4). Stream subjects live under `sms.`; `ctl.` subjects are
// broadcasts, never stored.

import type { Priority } from '../domain/message.ts'
import type { MessageStatus } from '../domain/status.ts'

/** Delivery jobs of one lane: dispatcher → workers. */
export const laneSubject = (lane: Priority) => `sms.deliver.${lane}`
/** The workers' shared durable of a lane. */
export const laneDurable = (lane: Priority) => `deliver-${lane}`
/** Every lane's jobs (the webhooks role derives message.queued from them). */
export const DELIVERY_JOBS = 'sms.deliver.>'

/** A job that ended failed or rejected (with its reason), for operators and replays. */
export const deadLetterSubject = (lane: Priority) => `sms.dead.${lane}`
export const DEAD_LETTERS = 'sms.dead.>'
export const deadLetterMsgId = (messageId: string) => `dead-${messageId}`

/** A committed status change (ADR 9): one customer's with `sms.status.<customer id>.>`, all with STATUS_EVENTS. */
export const statusSubject = (customerId: string, status: MessageStatus) =>
  `sms.status.${customerId}.${status}`
/** Several committed status changes of one customer in one bus message (the relay's unit). */
export const statusBatchSubject = (customerId: string) => `sms.status.${customerId}.batch`
/** The msgId of a batch: its first and last event ids, so a relay's re-publish of it is stored once. */
export const statusBatchMsgId = (firstEventId: string, lastEventId: string, count: number) =>
  `evts:${firstEventId}:${lastEventId}:${count}`
export const STATUS_EVENTS = 'sms.status.>'
/** Every status event of one customer (the live stream's subscription). */
export const customerStatusEvents = (customerId: string) => `sms.status.${customerId}.>`

/**
 * An event recorded in customer_events (endpoint.disabled, …), published by the relay in the same
 * order as status changes: `sms.event.<customer id>.<type>`; one customer's with customerEvents.
 */
export const customerEventSubject = (customerId: string, type: string) => `sms.event.${customerId}.${type}`
export const CUSTOMER_EVENTS = 'sms.event.>'
export const customerEvents = (customerId: string) => `sms.event.${customerId}.>`
export const customerEventMsgId = (rowId: string) => `cev:${rowId}`

/** Receipts and MO an api process without a worker took from HTTP carriers, for a worker to apply. */
export const webhookSubject = (kind: WebhookKind) => `sms.webhook.${kind}`
export const RELAYED_WEBHOOKS = 'sms.webhook.>'
export type WebhookKind = 'dlr' | 'inbound'
/** The payload on webhookSubject: the carrier's JSON as it was posted (already authenticated and parsed once). */
export interface RelayedWebhook {
  provider: string
  kind: WebhookKind
  json: unknown
}

/** Cached API keys to forget in every api process (a broadcast: not stored). */
export const KEY_EVICTIONS = 'ctl.auth.evict'

/** Opt-out and number changes, for every process's compliance cache (a broadcast: not stored). */
export const COMPLIANCE_CHANGES = 'ctl.compliance.changed'
