// The api side of HTTP-carrier webhooks when the api runs without a worker: the api checks the
// provider and the payload, stores the webhook on the bus and answers 202 once the broker has it;
// a worker process (which holds the carriers) applies it (delivery/webhook-relay.ts).
import type { Bus } from '../../bus/bus.ts'
import { type RelayedWebhook, type WebhookKind, webhookSubject } from '../../bus/subjects.ts'
import type { CarrierConfig } from '../config.ts'
import { parseHttpInbound, parseHttpReceipt } from './http-carrier.ts'

/**
 * Known HTTP providers only (others 404), payloads parsed as the carrier would
 * (CarrierPayloadError → 400), stored before the provider is answered.
 */
export function relayWebhooks(bus: Bus, carriers: CarrierConfig[]) {
  const http = new Set(carriers.filter((c) => c.type === 'http').map((c) => c.name))
  return async (provider: string, kind: WebhookKind, json: unknown): Promise<boolean> => {
    if (!http.has(provider)) return false
    if (kind === 'dlr') parseHttpReceipt(json)
    else parseHttpInbound(json)
    await bus.publish<RelayedWebhook>(webhookSubject(kind), { provider, kind, json })
    return true
  }
}
