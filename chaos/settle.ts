// Waits (bounded) until the gateway is quiescent: the outbox is empty and every message has a final
// status — or, where a carrier never sends receipts, is `sent` to that carrier and waits for one —
// and no webhook delivery is still being retried.
import type pg from 'pg'
import { sleep } from './processes.ts'

export interface SettleSpec {
  pool: pg.Pool
  timeoutMs: number
  /** A carrier whose `sent` messages count as settled (it never sends receipts). */
  silentCarrier?: string
  log: (line: string) => void
}

const UNSETTLED = `
  SELECT (SELECT count(*) FROM outbox)::int AS outbox,
         (SELECT count(*) FROM messages m WHERE m.status IN ('scheduled', 'queued', 'sending')
            OR (m.status = 'sent' AND NOT EXISTS (
                  SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.carrier = $1)))::int AS open,
         (SELECT count(*) FROM webhook_deliveries WHERE state = 'pending')::int AS webhooks`

/** Seconds it took, or null if the deadline passed first. */
export async function waitSettled(spec: SettleSpec): Promise<number | null> {
  const started = Date.now()
  let lastLog = started
  let last = ''
  while (Date.now() - started < spec.timeoutMs) {
    try {
      const { rows } = await spec.pool.query<{ outbox: number; open: number; webhooks: number }>(UNSETTLED, [
        spec.silentCarrier ?? '',
      ])
      const r = rows[0]!
      last = `outbox ${r.outbox}, unsettled messages ${r.open}, webhooks being retried ${r.webhooks}`
      if (r.outbox === 0 && r.open === 0 && r.webhooks === 0) return (Date.now() - started) / 1000
    } catch (err) {
      // The database may be coming back from a restart: keep asking until the deadline.
      last = `database: ${(err as Error).message}`
    }
    if (Date.now() - lastLog >= 15_000) {
      spec.log(`    settling… ${last} (${Math.round((Date.now() - started) / 1000)} s)`)
      lastLog = Date.now()
    }
    await sleep(250)
  }
  spec.log(`    not settled after ${Math.round(spec.timeoutMs / 1000)} s: ${last}`)
  return null
}
