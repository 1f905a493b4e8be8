// The event types of API.md, plus message.sending and message.unknown (status changes the
// status writer records too) and endpoint.disabled (recorded when an endpoint is switched off).
// A scheduled message has no event until it is queued.

const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'rejected',
  'expired',
  'canceled',
  'unknown',
] as const

export const EVENT_TYPES = [
  ...MESSAGE_STATUSES.map((s) => `message.${s}` as const),
  'message.received',
  'opt_out.created',
  'batch.completed',
  'endpoint.disabled',
] as const

export type EventType = (typeof EVENT_TYPES)[number]
