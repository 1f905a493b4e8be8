// How a message is shown to its customer: the public message object of API.md, used by the API,
// the events API and the webhook envelopes alike.

import { formatAmount } from '../domain/money.ts'
import { isFinalStatus } from '../domain/status.ts'
import type { MessageView } from './messages-repository.ts'

export const money = (micros: number, currency: string) => ({ amount: formatAmount(micros), currency })

/** The public message object of API.md; key order is fixed so replays are byte-identical. */
export function messageObject(m: MessageView) {
  return {
    id: m.id,
    object: 'message' as const,
    status: m.status,
    is_final: isFinalStatus(m.status),
    to: m.to,
    from: m.from,
    body: m.body,
    encoding: m.encoding,
    segments: m.segments,
    price: money(m.priceMicros, m.currency),
    priority: m.priority,
    client_reference: m.clientReference,
    status_callback_url: m.statusCallbackUrl,
    metadata: m.metadata,
    batch_id: m.batchId,
    country: m.country,
    created_at: m.createdAt.toISOString(),
    updated_at: m.updatedAt.toISOString(),
    send_at: m.sendAt?.toISOString() ?? null,
    expires_at: m.expiresAt.toISOString(),
  }
}
