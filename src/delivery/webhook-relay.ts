// Provider webhooks (HTTP receipts and MO messages) when the api runs without a worker: the api
// checks the provider and the payload, stores the webhook on the bus and answers 202 once the
// broker has it; a worker process (which holds the carriers) consumes and applies it.
import type { Bus, Consumer } from '../bus/bus.ts'
import type { CarrierConfig } from '../carriers/config.ts'
import { parseHttpInbound, parseHttpReceipt } from '../carriers/http/http-carrier.ts'

export type WebhookKind = 'dlr' | 'inbound'

export interface RelayedWebhook {
  provider: string
  kind: WebhookKind
  json: unknown
}

export const WEBHOOK_SUBJECT = 'sms.webhook'
const WEBHOOK_DURABLE = 'provider-webhooks'

/**
 * The api side: known HTTP providers only (others 404), payloads parsed as the carrier would
 * (CarrierPayloadError → 400), stored before the provider is answered.
 */
export function relayWebhooks(bus: Bus, carriers: CarrierConfig[]) {
  const http = new Set(carriers.filter((c) => c.type === 'http').map((c) => c.name))
  return async (provider: string, kind: WebhookKind, json: unknown): Promise<boolean> => {
    if (!http.has(provider)) return false
    if (kind === 'dlr') parseHttpReceipt(json)
    else parseHttpInbound(json)
    await bus.publish<RelayedWebhook>(`${WEBHOOK_SUBJECT}.${kind}`, { provider, kind, json })
    return true
  }
}

/** The worker side: applies relayed webhooks through the pipeline's own handler. */
export function consumeRelayedWebhooks(
  bus: Bus,
  apply: (provider: string, kind: WebhookKind, json: unknown) => Promise<boolean>,
  onError: (err: unknown) => void,
): Promise<Consumer> {
  return bus.consume<RelayedWebhook>({
    durable: WEBHOOK_DURABLE,
    subject: `${WEBHOOK_SUBJECT}.>`,
    concurrency: 64,
    handler: async (m) => {
      const { provider, kind, json } = m.data
      // A provider this worker does not run (a carrier file out of step with the api's) is
      // reported and dropped rather than redelivered forever.
      if (!(await apply(provider, kind, json)))
        onError(new Error(`relayed ${kind} webhook for provider ${provider}, which this worker does not run`))
      await m.ack()
    },
  })
}
