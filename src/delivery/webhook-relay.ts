// CarrierLink webhooks (HTTP receipts and MO messages) relayed by an api process without a worker
// (carriers/http/webhook-relay.ts): a worker, which holds the carriers, consumes and applies them.
import type { Bus, Consumer } from '../bus/bus.ts'
import { RELAYED_WEBHOOKS, type RelayedWebhook, type WebhookKind } from '../bus/subjects.ts'

const WEBHOOK_DURABLE = 'provider-webhooks'

/** The worker side: applies relayed webhooks through the pipeline's own handler. */
export function consumeRelayedWebhooks(
  bus: Bus,
  apply: (provider: string, kind: WebhookKind, json: unknown) => Promise<boolean>,
  onError: (err: unknown) => void,
): Promise<Consumer> {
  return bus.consume<RelayedWebhook>({
    durable: WEBHOOK_DURABLE,
    subject: RELAYED_WEBHOOKS,
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
