// Webhook scenarios: each customer registers an endpoint at the receiver before the load; after
// the run every delivery chain's event must have reached its customer's path, correctly signed.
import type pg from 'pg'
import type { Customer } from '../bench/admin-client.ts'
import { runBounded } from '../bench/bounded.ts'
import type { WebhookReceiver } from './webhook-receiver.ts'

const pathOf = (c: Customer) => `/c/${c.id}`

export async function registerEndpoints(
  apiUrl: string,
  customers: Customer[],
  rx: WebhookReceiver,
): Promise<void> {
  await runBounded(customers.length, 4, async (i) => {
    const c = customers[i]!
    const res = await fetch(`${apiUrl}/v1/webhook_endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: rx.url(pathOf(c)) }),
    })
    const body = (await res.json()) as { secret?: string }
    if (res.status !== 201 || !body.secret)
      throw new Error(`webhook endpoint: ${res.status} ${JSON.stringify(body)}`)
    rx.expect(pathOf(c), body.secret)
  })
}

export async function webhookFindings(pool: pg.Pool, customers: Customer[], rx: WebhookReceiver) {
  const { rows } = await pool.query<{ customer_id: string; event_id: string; state: string }>(
    'SELECT customer_id::text, event_id, state FROM webhook_deliveries WHERE endpoint_id IS NOT NULL',
  )
  const byId = new Map(customers.map((c) => [c.id, c]))
  let missing = 0
  for (const r of rows) {
    const c = byId.get(r.customer_id)
    if (!c || !rx.ids(pathOf(c)).has(r.event_id)) missing++
  }
  const stats = rx.stats()
  // What is left pending after the settle wait, to read when the scenario fails.
  const { rows: pending } = await pool.query(
    `SELECT event_id, target, attempts, extract(epoch FROM next_attempt_at - now())::int AS next_in_s,
            extract(epoch FROM now() - updated_at)::int AS updated_s_ago,
            (SELECT json_agg(json_build_object('attempt', a.attempt, 'status', a.status_code, 'error', a.error,
                                               'ms', a.latency_ms, 'at', a.created_at) ORDER BY a.id)
               FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempts_log
       FROM webhook_deliveries d WHERE state = 'pending' LIMIT 5`,
  )
  return {
    pending,
    chains: rows.length,
    failedChains: rows.filter((r) => r.state === 'failed').length,
    missing,
    ...stats,
  }
}
