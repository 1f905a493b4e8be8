import type { DeliveryJob, NewMessage, Priority } from '../domain/message.ts'
import { toMicros } from '../domain/money.ts'

/** What a delivery job is made of, as `messages` returns it or as the accept path holds it. */
export interface JobSource {
  id: string
  created_at: Date | string
  customer_id: string
  to: string
  from: string
  body: string
  encoding: DeliveryJob['encoding']
  segments: number | string
  price_micros: number | string
  country: string
  expires_at: Date | string
  status_callback: boolean
}

/**
 * The one builder of a DeliveryJob: the job read from `messages` and the job handed over from
 * the accept path in memory go through it, so both are the same bytes on the bus.
 */
export function deliveryJob(s: JobSource, lane: Priority): DeliveryJob {
  return {
    id: s.id,
    created_at: new Date(s.created_at).toISOString(),
    customer_id: s.customer_id,
    to: s.to,
    from: s.from,
    body: s.body,
    encoding: s.encoding,
    segments: Number(s.segments),
    price_micros: toMicros(s.price_micros),
    priority: lane,
    country: s.country,
    expires_at: new Date(s.expires_at).toISOString(),
    status_callback: s.status_callback,
  }
}

/** The job of a message just accepted, from what the accept path wrote (no read of `messages`). */
export function jobOfMessage(m: NewMessage): DeliveryJob {
  return deliveryJob(
    {
      id: m.id,
      created_at: m.createdAt,
      customer_id: m.customerId,
      to: m.to,
      from: m.from,
      body: m.body,
      encoding: m.encoding,
      segments: m.segments,
      price_micros: m.priceMicros,
      country: m.country,
      expires_at: m.expiresAt,
      // The column is NULL when the field is null or left out (JSON drops undefined).
      status_callback: (m.statusCallbackUrl ?? null) !== null,
    },
    m.priority,
  )
}
