// What to look at when a scenario fails: where the unsettled messages are in the database (status
// × delivery state × carrier), what the JetStream durables still hold, and a sample of ids.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type pg from 'pg'

export interface Diagnosis {
  messages: { status: string; delivery_state: string | null; carrier: string | null; n: number }[]
  unsettledSample: { id: string; status: string; delivery_state: string | null; created_at: string }[]
  outbox: number
  durables: { durable: string; numPending: number; numAckPending: number; numRedelivered: number }[]
  errors: string[]
}

export async function diagnose(pool: pg.Pool, natsUrl: string, stream: string): Promise<Diagnosis> {
  const d: Diagnosis = { messages: [], unsettledSample: [], outbox: -1, durables: [], errors: [] }
  try {
    d.messages = (
      await pool.query<Diagnosis['messages'][number]>(
        `SELECT m.status, d.state AS delivery_state, d.carrier, count(*)::int AS n
           FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id GROUP BY 1, 2, 3 ORDER BY 4 DESC`,
      )
    ).rows
    d.unsettledSample = (
      await pool.query<Diagnosis['unsettledSample'][number]>(
        `SELECT m.id, m.status, d.state AS delivery_state, m.created_at::text
           FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id
          WHERE m.status IN ('scheduled', 'queued', 'sending', 'sent') ORDER BY m.created_at LIMIT 10`,
      )
    ).rows
    d.outbox = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox')).rows[0]?.n)
  } catch (err) {
    d.errors.push(`database: ${(err as Error).message}`)
  }
  try {
    const nc = await connect({ servers: natsUrl, timeout: 5000 })
    try {
      const jsm = await jetstreamManager(nc)
      for await (const c of jsm.consumers.list(stream)) {
        d.durables.push({
          durable: c.name,
          numPending: c.num_pending,
          numAckPending: c.num_ack_pending,
          numRedelivered: c.num_redelivered,
        })
      }
    } finally {
      await nc.close()
    }
  } catch (err) {
    d.errors.push(`nats: ${(err as Error).message}`)
  }
  return d
}
