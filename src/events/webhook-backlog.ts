import { Gauge, type Registry } from 'prom-client'
import type { Queryable } from '../db/db.ts'

/** Most deliveries counted per series: a scrape must stay cheap during a long endpoint outage. */
const COUNT_CAP = 100_000

/**
 * Pending webhook deliveries: `due` (their next attempt's time has come: the backlog the webhooks
 * role has not got to) and `scheduled` (waiting for a retry later), counted up to 100,000 each
 * over the partial indexes on pending deliveries.
 */
export async function countWebhookBacklog(q: Queryable): Promise<{ due: number; scheduled: number }> {
  const { rows } = await q.query<{ due: string | number; scheduled: string | number }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries
               WHERE state = 'pending' AND next_attempt_at <= now() LIMIT $1) d) AS due,
            (SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries
               WHERE state = 'pending' AND next_attempt_at > now() LIMIT $1) s) AS scheduled`,
    [COUNT_CAP],
  )
  return { due: Number(rows[0]?.due ?? 0), scheduled: Number(rows[0]?.scheduled ?? 0) }
}

/** `smsgw_webhook_backlog{state}`, read from the database at each scrape. */
export function registerWebhookBacklogGauge(registry: Registry, db: Queryable): void {
  new Gauge({
    name: 'smsgw_webhook_backlog',
    help: 'Pending webhook deliveries: due (to send now) and scheduled (retry later), counted up to 100,000 each',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await countWebhookBacklog(db).catch(() => ({ due: Number.NaN, scheduled: Number.NaN }))
      this.set({ state: 'due' }, counts.due)
      this.set({ state: 'scheduled' }, counts.scheduled)
    },
  })
}
