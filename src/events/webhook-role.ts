// `smsgw webhooks` (and the same inside `smsgw start`): the delivery service with its sender,
// configured from the environment.

import { Counter, Histogram, type Registry } from 'prom-client'
import type { Bus } from '../bus/bus.ts'
import type { Config } from '../config/config.ts'
import type { Db } from '../db/db.ts'
import { registerWebhookBacklogGauge } from './webhook-backlog.ts'
import { createWebhookDelivery, type WebhookDelivery } from './webhook-delivery.ts'
import { pruneWebhookHistory } from './webhook-queue.ts'
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
  registry?: Registry
  onError: (err: unknown) => void
  /** A destination refused by the address guard, with the detail the customer is not shown. */
  onRefused?: (url: string, detail: string) => void
}): Promise<WebhookRole> {
  const policy = { allowInsecure: opts.config.SMSGW_WEBHOOK_ALLOW_INSECURE === 'true' }
  const registers = opts.registry ? [opts.registry] : []
  const attempts = new Counter({
    name: 'smsgw_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, final, abandoned)',
    labelNames: ['outcome'],
    registers,
  })
  const latency = new Histogram({
    name: 'smsgw_webhook_attempt_seconds',
    help: 'Time from sending a webhook to its answer',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  if (opts.registry) registerWebhookBacklogGauge(opts.registry, opts.db)
  const sender = createWebhookSender({
    ...policy,
    connectionsPerTarget: opts.config.SMSGW_WEBHOOK_CONCURRENCY,
    ...(opts.onRefused ? { onRefused: opts.onRefused } : {}),
  })
  const delivery: WebhookDelivery = createWebhookDelivery({
    ...policy,
    db: opts.db,
    bus: opts.bus,
    sender,
    key: opts.key,
    retryBaseMs: opts.config.SMSGW_WEBHOOK_RETRY_BASE_MS,
    leaseMs: opts.config.SMSGW_WEBHOOK_LEASE_MS,
    perTargetConcurrency: opts.config.SMSGW_WEBHOOK_CONCURRENCY,
    onAttempt: (_target, outcome, ms) => {
      attempts.inc({ outcome })
      if (ms !== undefined) latency.observe(ms / 1000)
    },
    onError: opts.onError,
  })
  await delivery.start()
  // Hourly, like maintenance; several webhooks processes deleting the same rows is harmless.
  const prune = setInterval(() => {
    pruneWebhookHistory(opts.db).catch(opts.onError)
  }, 3_600_000)
  prune.unref()
  return {
    wake: () => delivery.wake(),
    async stop() {
      clearInterval(prune)
      await delivery.stop()
      await sender.close()
    },
  }
}
