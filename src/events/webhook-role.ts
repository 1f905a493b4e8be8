// `smsgw webhooks` (and the same inside `smsgw start`): the delivery service with its sender,
// configured from the environment.

import type { Bus } from '../bus/bus.ts'
import type { Config } from '../config/config.ts'
import type { Db } from '../db/db.ts'
import { createWebhookDelivery, type WebhookDelivery } from './webhook-delivery.ts'
import { createWebhookSender } from './webhook-sender.ts'

export interface WebhookRole {
  /** New deliveries were queued in this process (a redelivery): claim them now. */
  wake(): void
  stop(): Promise<void>
}

export async function startWebhookRole(opts: {
  config: Config
  db: Db
  bus: Bus
  key: () => Buffer
  onError: (err: unknown) => void
}): Promise<WebhookRole> {
  const policy = { allowInsecure: opts.config.SMSGW_WEBHOOK_ALLOW_INSECURE === 'true' }
  const sender = createWebhookSender(policy)
  const delivery: WebhookDelivery = createWebhookDelivery({
    ...policy,
    db: opts.db,
    bus: opts.bus,
    sender,
    key: opts.key,
    retryBaseMs: opts.config.SMSGW_WEBHOOK_RETRY_BASE_MS,
    onError: opts.onError,
  })
  await delivery.start()
  return {
    wake: () => delivery.wake(),
    async stop() {
      await delivery.stop()
      await sender.close()
    },
  }
}
