// What became of the accepted messages, read after the load so reading never competes with it:
// from the harness's own database (message_events, as e2e does) or, for --target, from
// GET /v1/messages with each simulated customer's key.
import pg from 'pg'
import { Pool } from 'undici'
import { FINAL_STATUSES, isFinalStatus } from '../../src/domain/status.ts'
import { runBounded } from '../bounded.ts'

export interface Outcome {
  status: string
  /** Epoch ms of the `delivered` status; null when not delivered. */
  deliveredAtMs: number | null
  /**
   * Epoch ms of the stages on the way, where the run's database has them (not with --target):
   * the accept commit (messages.created_at), the worker's claim (deliveries.lease_until minus the
   * default 60 s lease: the job left the bus and a handler took it), the `sent` status.
   */
  stagesMs?: { createdAt: number; claimedAt: number | null; sentAt: number | null }
}

export interface Outcomes {
  source: 'message_events' | 'GET /v1/messages'
  byId: Map<string, Outcome>
}

export interface Drain {
  drained: boolean
  /** Messages (or probes, with --target) not final when the wait ended. */
  pending: number
  waitedS: number
  limitS: number
}

/** The worker's default claim lease (WorkerOptions.leaseMs): the claim time is its lease end minus this. */
const CLAIM_LEASE_MS = 60_000
const PENDING_SQL = `SELECT count(*)::int AS n FROM messages WHERE status <> ALL($1::text[])`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, statement_timeout: 120_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Waits until no message in the run's database is short of a final status, at most `limitS`. */
export function drainDb(dbUrl: string, limitS: number, onWait: (pending: number) => void): Promise<Drain> {
  return withClient(dbUrl, async (client) => {
    const started = performance.now()
    for (;;) {
      const { rows } = await client.query<{ n: number }>(PENDING_SQL, [[...FINAL_STATUSES]])
      const pending = rows[0]?.n ?? 0
      const waitedS = (performance.now() - started) / 1000
      if (pending === 0 || waitedS >= limitS) return { drained: pending === 0, pending, waitedS, limitS }
      onWait(pending)
      await sleep(1000)
    }
  })
}

export function outcomesFromDb(dbUrl: string): Promise<Outcomes> {
  return withClient(dbUrl, async (client) => {
    const { rows } = await client.query<{
      id: string
      status: string
      created_ms: number
      claimed_ms: number | null
      sent_ms: number | null
      delivered_ms: number | null
    }>(
      `SELECT m.id::text AS id, m.status, (extract(epoch FROM m.created_at) * 1000)::float8 AS created_ms,
              (extract(epoch FROM dl.lease_until - interval '${CLAIM_LEASE_MS} milliseconds') * 1000)::float8 AS claimed_ms,
              (extract(epoch FROM e.sent) * 1000)::float8 AS sent_ms,
              (extract(epoch FROM e.delivered) * 1000)::float8 AS delivered_ms
         FROM messages m
         LEFT JOIN deliveries dl ON dl.message_id = m.id
         LEFT JOIN (SELECT message_id, min(created_at) FILTER (WHERE status = 'sent') AS sent,
                           min(created_at) FILTER (WHERE status = 'delivered') AS delivered
                      FROM message_events WHERE status IN ('sent', 'delivered') GROUP BY message_id) e
           ON e.message_id = m.id`,
    )
    const byId = new Map<string, Outcome>()
    for (const r of rows) {
      byId.set(r.id, {
        status: r.status,
        deliveredAtMs: r.delivered_ms,
        stagesMs: { createdAt: r.created_ms, claimedAt: r.claimed_ms, sentAt: r.sent_ms },
      })
    }
    return { source: 'message_events', byId }
  })
}

interface ListPage {
  data: { id: string; status: string; updated_at: string }[]
  next_cursor: string | null
}

async function getJson<T>(pool: Pool, path: string, apiKey: string): Promise<T> {
  for (;;) {
    const res = await pool.request({
      path,
      method: 'GET',
      headers: { authorization: `Bearer ${apiKey}` },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    })
    const text = await res.body.text()
    // Reads have a per-customer budget (SMSGW_READ_RATE_LIMIT_RPS): wait as told, then read on.
    if (res.statusCode === 429) {
      await sleep(1000 * Math.max(1, Number(res.headers['retry-after']) || 1))
      continue
    }
    if (res.statusCode !== 200) throw new Error(`GET ${path} → ${res.statusCode}: ${text.slice(0, 300)}`)
    return JSON.parse(text) as T
  }
}

/**
 * --target: waits until sample messages (the last ones accepted in each lane, which finish last)
 * are final; reading every message each second would load the server under test.
 */
export async function drainApi(
  url: string,
  probes: readonly { id: string; apiKey: string }[],
  limitS: number,
  onWait: (pending: number) => void,
): Promise<Drain> {
  const pool = new Pool(url, { connections: 4 })
  const started = performance.now()
  let open = [...probes]
  try {
    for (;;) {
      const still: typeof open = []
      for (const p of open) {
        const m = await getJson<{ status: string }>(pool, `/v1/messages/${p.id}`, p.apiKey)
        if (!isFinalStatus(m.status)) still.push(p)
      }
      open = still
      const waitedS = (performance.now() - started) / 1000
      if (open.length === 0 || waitedS >= limitS) {
        return { drained: open.length === 0, pending: open.length, waitedS, limitS }
      }
      onWait(open.length)
      await sleep(2000)
    }
  } finally {
    await pool.destroy()
  }
}

/** --target: every message of the given customers since `since`; `delivered` at its updated_at. */
export async function outcomesFromApi(
  url: string,
  apiKeys: readonly string[],
  since: Date,
): Promise<Outcomes> {
  const pool = new Pool(url, { connections: 4 })
  const byId = new Map<string, Outcome>()
  const after = encodeURIComponent(since.toISOString())
  try {
    await runBounded(apiKeys.length, 4, async (i) => {
      let cursor: string | null = null
      do {
        const page: ListPage = await getJson<ListPage>(
          pool,
          `/v1/messages?limit=1000&created_after=${after}${cursor ? `&cursor=${cursor}` : ''}`,
          apiKeys[i]!,
        )
        for (const m of page.data) {
          byId.set(m.id, {
            status: m.status,
            deliveredAtMs: m.status === 'delivered' ? Date.parse(m.updated_at) : null,
          })
        }
        cursor = page.next_cursor
      } while (cursor)
    })
  } finally {
    await pool.destroy()
  }
  return { source: 'GET /v1/messages', byId }
}
