// The webhook half of `e2e --webhooks`: starts the receiver (bench/webhook-receiver.ts, a child
// process), registers one endpoint per benchmark customer (up to a cap) pointing at it, waits until
// every event of those customers has arrived, and turns what the receiver recorded into figures:
// webhooks/s during and after the load, the backlog over time, status change → received latency.
import type pg from 'pg'
import { parseEventId } from '../src/events/event-ids.ts'
import type { Customer } from './admin-client.ts'
import { runBounded } from './bounded.ts'
import { type ServerProcess, startScript } from './server-process.ts'

export interface Receiver {
  process: ServerProcess
  url: string
}

export async function startReceiver(repoRoot: string): Promise<Receiver> {
  const process = await startScript({
    name: 'webhook-receiver',
    script: 'bench/webhook-receiver.ts',
    cwd: repoRoot,
    readyPath: '/health',
  })
  return { process, url: process.url }
}

/**
 * `POST /v1/webhook_endpoints` with each customer's own API key (every event type), then hands the
 * secrets to the receiver. Returns the customers that have an endpoint.
 */
export async function registerEndpoints(
  apiUrl: string,
  receiver: Receiver,
  customers: Customer[],
  concurrency = 16,
): Promise<Customer[]> {
  const secrets: Record<string, string> = {}
  await runBounded(customers.length, concurrency, async (i) => {
    const customer = customers[i] as Customer
    const res = await fetch(`${apiUrl}/v1/webhook_endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${customer.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiver.url}/hooks/${i}`, description: 'bench e2e' }),
      signal: AbortSignal.timeout(30_000),
    })
    const text = await res.text()
    if (res.status !== 201) {
      throw new Error(`POST /v1/webhook_endpoints → ${res.status} (expected 201): ${text.slice(0, 500)}`)
    }
    const secret = (JSON.parse(text) as { secret?: unknown }).secret
    if (typeof secret !== 'string') throw new Error('POST /v1/webhook_endpoints: no secret in the 201')
    secrets[String(i)] = secret
  })
  const res = await fetch(`${receiver.url}/_secrets`, { method: 'PUT', body: JSON.stringify(secrets) })
  if (res.status !== 204) throw new Error(`receiver PUT /_secrets → ${res.status}`)
  return customers
}

interface ReceiverCount {
  unique: number
  requests: number
  duplicates: number
  verifyFailed: number
  unknownEndpoint: number
  badEnvelope: number
}

interface ReceiverStats extends ReceiverCount {
  createdMs: number[]
  receivedMs: number[]
  types: string[]
  endpoints: number[]
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  if (res.status !== 200) throw new Error(`GET ${url} → ${res.status}`)
  return (await res.json()) as T
}

/**
 * Events the gateway owes the endpoints: for each message of a customer with an endpoint, its
 * `message.queued` (derived from the message row) and one per `message_events` row.
 */
export async function expectedEvents(db: pg.Client, customerIds: string[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT ((SELECT count(*) FROM messages WHERE customer_id = ANY($1::uuid[])) +
             (SELECT count(*) FROM message_events WHERE customer_id = ANY($1::uuid[])))::text AS n`,
    [customerIds],
  )
  return Number(rows[0]?.n)
}

/**
 * Waits until every message is final and the receiver holds every event owed (recounted each poll,
 * as messages still moving add events), nothing arrived for `quietMs`, or `deadlineMs` passed.
 * Returns the receiver's count and the events owed at the end.
 */
export async function waitForWebhooks(
  receiver: Receiver,
  db: pg.Client,
  customerIds: string[],
  opts: { quietMs: number; deadlineMs: number },
): Promise<ReceiverCount & { expected: number }> {
  const deadline = Date.now() + opts.deadlineMs
  let last = -1
  let lastChange = Date.now()
  for (;;) {
    const settled = (await notFinal(db)) === 0
    const expected = await expectedEvents(db, customerIds)
    const count = await getJson<ReceiverCount>(`${receiver.url}/_count`)
    if (count.unique !== last) {
      last = count.unique
      lastChange = Date.now()
    }
    const complete = settled && count.unique >= expected
    if (complete || Date.now() > deadline || Date.now() - lastChange > opts.quietMs) {
      return { ...count, expected }
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** Messages not yet in a final status. */
export async function notFinal(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM messages WHERE status IN ('scheduled','queued','sending','sent')",
  )
  return Number(rows[0]?.n)
}

/** State of the gateway's delivery queue after the run (chains per state, retried chains). */
export async function deliveryQueueState(db: pg.Client): Promise<Record<string, number>> {
  const { rows } = await db.query<{ state: string; n: string; retried: string }>(
    `SELECT state, count(*)::text AS n, count(*) FILTER (WHERE attempts > 1)::text AS retried
       FROM webhook_deliveries GROUP BY state`,
  )
  const out: Record<string, number> = { pending: 0, succeeded: 0, failed: 0, retried: 0 }
  for (const r of rows) {
    out[r.state] = Number(r.n)
    out.retried = (out.retried ?? 0) + Number(r.retried)
  }
  const attempts = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM webhook_attempts')
  out.attempts = Number(attempts.rows[0]?.n)
  return out
}

/**
 * Where a webhook's time went inside the gateway, first attempts that succeeded, p50/p95 ms: the
 * event (its id's time) → its chain queued (bus consumption + enqueue), → claimed (the claim's
 * lease, `next_attempt_at` − SMSGW_WEBHOOK_LEASE_MS, is left on a succeeded chain), → the request
 * sent (in-memory queue, event and endpoint reads, signing), and the request itself.
 */
export async function deliveryStages(db: pg.Client, leaseMs = 60_000) {
  const { rows } = await db.query<{
    event_id: string
    enq: number
    claimed: number
    rec: number
    latency_ms: number
  }>(
    `SELECT d.event_id, extract(epoch FROM d.created_at) * 1000 AS enq,
            extract(epoch FROM d.next_attempt_at) * 1000 - $1 AS claimed,
            extract(epoch FROM a.created_at) * 1000 AS rec, a.latency_ms
       FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id AND a.attempt = 1
      WHERE d.state = 'succeeded'`,
    [leaseMs],
  )
  const stages: Record<'eventToQueued' | 'queuedToClaimed' | 'claimedToSent' | 'request', number[]> = {
    eventToQueued: [],
    queuedToClaimed: [],
    claimedToSent: [],
    request: [],
  }
  for (const r of rows) {
    const at = parseEventId(r.event_id)?.at
    if (at === undefined) continue
    const [enq, claimed, rec, ms] = [Number(r.enq), Number(r.claimed), Number(r.rec), Number(r.latency_ms)]
    stages.eventToQueued.push(enq - at)
    stages.queuedToClaimed.push(claimed - enq)
    // Recorded after the answer, in a group: the record's wait is counted here too.
    stages.claimedToSent.push(rec - ms - claimed)
    stages.request.push(ms)
  }
  return Object.fromEntries(
    Object.entries(stages).map(([k, v]) => {
      const sorted = v.sort((a, b) => a - b)
      return [k, { p50: Math.round(quantile(sorted, 0.5)), p95: Math.round(quantile(sorted, 0.95)) }]
    }),
  )
}

export interface WebhookFigures {
  endpoints: number
  expected: number
  received: number
  missing: number
  duplicates: number
  verifyFailed: number
  /** Unique events received per second during the load window. */
  receivedPerSecDuringLoad: number
  /** Events (status changes of endpoint customers) produced per second during the load window. */
  producedPerSecDuringLoad: number
  /** Unique events received per second from the end of the load to the last one received. */
  receivedPerSecAfterLoad: number
  /** Events that had happened but not yet arrived, at 25/50/75/100 % of the load, and the worst second. */
  backlog: { at25: number; at50: number; at75: number; atLoadEnd: number; maxDuringLoad: number }
  /** Seconds from the end of the load until the last event arrived. */
  drainAfterLoadS: number
  /** Backlog at the end of the load no larger than at half-time plus one second of production. */
  keepsUp: boolean
  /** Status change (envelope created_at) → received, ms. */
  latencyMs: { p50: number; p95: number; p99: number; max: number }
  /** The same for `message.delivered` alone (the event a customer waits for). */
  deliveredLatencyMs: { p50: number; p95: number; p99: number }
  byType: Record<string, number>
  /**
   * The busiest customer's endpoint (n = 0, the Zipf head) against all others: one endpoint has a
   * fixed concurrency in the webhooks role, so its queue is the first to fall behind.
   */
  byEndpoint: {
    busiest: { events: number; sharePct: number; p50: number; p95: number; backlogAtLoadEnd: number }
    others: { events: number; p50: number; p95: number; backlogAtLoadEnd: number }
  }
  /** Gateway-side delivery chains by state, retried chains, attempts logged. */
  queue: Record<string, number>
  /** Where the time went inside the gateway (deliveryStages). */
  stages: Awaited<ReturnType<typeof deliveryStages>>
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i] as number
}

/** Figures from the receiver's records; load window in wall-clock ms. */
export async function webhookFigures(
  receiver: Receiver,
  opts: {
    endpoints: number
    expected: number
    loadStartMs: number
    loadEndMs: number
    queue: Record<string, number>
    stages: Awaited<ReturnType<typeof deliveryStages>>
  },
): Promise<WebhookFigures> {
  const s = await getJson<ReceiverStats>(`${receiver.url}/_stats`)
  const { loadStartMs, loadEndMs } = opts
  const loadS = (loadEndMs - loadStartMs) / 1000
  const created = [...s.createdMs].sort((a, b) => a - b)
  const received = [...s.receivedMs].sort((a, b) => a - b)
  const countLe = (sorted: number[], t: number) => {
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((sorted[mid] as number) <= t) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  // Every event that has happened by t and is among those received, minus those received by t.
  const backlogAt = (t: number) => countLe(created, t) - countLe(received, t)
  let maxDuringLoad = backlogAt(loadEndMs)
  for (let t = loadStartMs; t <= loadEndMs; t += 250) maxDuringLoad = Math.max(maxDuringLoad, backlogAt(t))
  const at = (f: number) => backlogAt(loadStartMs + f * (loadEndMs - loadStartMs))
  const inLoad = (sorted: number[]) => countLe(sorted, loadEndMs) - countLe(sorted, loadStartMs)
  const lastReceived = received.at(-1) ?? loadEndMs
  const afterS = Math.max(0, (lastReceived - loadEndMs) / 1000)
  const afterCount = received.length - countLe(received, loadEndMs)
  const latencies = s.receivedMs.map((r, i) => r - (s.createdMs[i] as number)).sort((a, b) => a - b)
  const delivered = s.receivedMs
    .map((r, i) => (s.types[i] === 'message.delivered' ? r - (s.createdMs[i] as number) : Number.NaN))
    .filter((x) => !Number.isNaN(x))
    .sort((a, b) => a - b)
  const part = (keep: (endpoint: number) => boolean) => {
    const lat: number[] = []
    const c: number[] = []
    const rcv: number[] = []
    s.endpoints.forEach((e, i) => {
      if (!keep(e)) return
      lat.push((s.receivedMs[i] as number) - (s.createdMs[i] as number))
      c.push(s.createdMs[i] as number)
      rcv.push(s.receivedMs[i] as number)
    })
    lat.sort((a, b) => a - b)
    c.sort((a, b) => a - b)
    rcv.sort((a, b) => a - b)
    return {
      events: lat.length,
      p50: Math.round(quantile(lat, 0.5)),
      p95: Math.round(quantile(lat, 0.95)),
      backlogAtLoadEnd: countLe(c, loadEndMs) - countLe(rcv, loadEndMs),
    }
  }
  const busiest = part((e) => e === 0)
  const byEndpoint = {
    busiest: { ...busiest, sharePct: Math.round((busiest.events / Math.max(1, s.unique)) * 1000) / 10 },
    others: part((e) => e !== 0),
  }
  const byType: Record<string, number> = {}
  for (const t of s.types) byType[t] = (byType[t] ?? 0) + 1
  const producedPerSec = inLoad(created) / loadS
  const backlog = { at25: at(0.25), at50: at(0.5), at75: at(0.75), atLoadEnd: at(1), maxDuringLoad }
  const r = Math.round
  return {
    endpoints: opts.endpoints,
    expected: opts.expected,
    received: s.unique,
    missing: Math.max(0, opts.expected - s.unique),
    duplicates: s.duplicates,
    verifyFailed: s.verifyFailed,
    receivedPerSecDuringLoad: r(inLoad(received) / loadS),
    producedPerSecDuringLoad: r(producedPerSec),
    receivedPerSecAfterLoad: afterS > 0 ? r(afterCount / afterS) : 0,
    backlog,
    drainAfterLoadS: r(afterS * 10) / 10,
    keepsUp: backlog.atLoadEnd <= backlog.at50 + producedPerSec,
    latencyMs: {
      p50: r(quantile(latencies, 0.5)),
      p95: r(quantile(latencies, 0.95)),
      p99: r(quantile(latencies, 0.99)),
      max: r(latencies.at(-1) ?? Number.NaN),
    },
    deliveredLatencyMs: {
      p50: r(quantile(delivered, 0.5)),
      p95: r(quantile(delivered, 0.95)),
      p99: r(quantile(delivered, 0.99)),
    },
    byType,
    byEndpoint,
    queue: opts.queue,
    stages: opts.stages,
  }
}
