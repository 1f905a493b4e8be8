// The event types of API.md, plus endpoint.disabled (recorded when an endpoint is switched off).

const MESSAGE_STATUSES = [
  'scheduled',
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
