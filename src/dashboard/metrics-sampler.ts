// What the dashboard's live charts show: the process's prom-client registry read once a second
// (one shared timer, running only while a dashboard is open), turned into rates and interval
// quantiles the browser can plot without knowing Prometheus.

import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client'

/** What registry.getMetricsAsJSON() gives (histogram values also carry their metricName). */
type Json = MetricObjectWithValues<MetricValue<string> & { metricName?: string }>[]
type Labels = Partial<Record<string, string | number>>

const CIRCUIT = ['closed', 'half_open', 'open', 'isolated']

export interface LaneSample {
  lane: string
  /** Messages in the PostgreSQL outbox not yet released to the bus (null: no dispatcher here). */
  outbox: number | null
  /** Messages on the bus not yet settled by a worker (null: no pipeline here). */
  pending: number | null
}

export interface CarrierSample {
  name: string
  circuit: string | null
  window_in_use: number | null
  /** Accepted submits per second over the last interval. */
  submits_per_s: number
  submit_p50_ms: number | null
  submit_p99_ms: number | null
  /** Failed submit attempts since start, by kind (transient, throttled, permanent, circuit_open). */
  errors: Record<string, number>
  receipts: number
}

export interface Sample {
  /** Unix milliseconds. */
  t: number
  accepted_per_s: number
  dispatched_per_s: number
  delivered_per_s: number
  rejected_per_s: number
  /** POST /v1/messages latency over the last 10 s (null: no request in them). */
  accept_p50_ms: number | null
  accept_p99_ms: number | null
  /** Accept → delivered receipt over the last 10 s, all priorities. */
  delivery_p50_s: number | null
  delivery_p95_s: number | null
  /** Carrier accept → receipt since start. */
  receipt_p50_s: number | null
  receipt_p95_s: number | null
  totals: { accepted: number; delivered: number; rejected: number; receipts_parked: number | null }
  lanes: LaneSample[]
  carriers: CarrierSample[]
}

/** Sum of a counter's (or gauge's) values whose labels pass `keep`; 0 when absent. */
function total(
  m: Map<string, Json[number]>,
  name: string,
  keep: (l: Labels) => boolean = () => true,
): number {
  let sum = 0
  for (const v of m.get(name)?.values ?? []) if (keep(v.labels) && Number.isFinite(v.value)) sum += v.value
  return sum
}

/** Cumulative buckets (le → count) of a histogram, summed over the series `keep` accepts. */
function buckets(m: Map<string, Json[number]>, name: string, keep: (l: Labels) => boolean = () => true) {
  const out = new Map<number, number>()
  for (const v of m.get(name)?.values ?? []) {
    if (v.metricName !== `${name}_bucket` || !keep(v.labels)) continue
    const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le)
    out.set(le, (out.get(le) ?? 0) + v.value)
  }
  return out
}

/**
 * The q-quantile of cumulative bucket counts (as Prometheus' histogram_quantile: linear within the
 * bucket; the highest finite bound when it falls in +Inf); null without observations.
 */
export function quantile(q: number, cumulative: Map<number, number>): number | null {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b)
  const count = cumulative.get(Number.POSITIVE_INFINITY) ?? 0
  if (count <= 0) return null
  const rank = q * count
  let prevBound = 0
  let prevCount = 0
  for (const b of bounds) {
    const c = cumulative.get(b) ?? 0
    if (c >= rank) {
      if (b === Number.POSITIVE_INFINITY) return prevBound
      if (c === prevCount) return b
      return prevBound + ((b - prevBound) * (rank - prevCount)) / (c - prevCount)
    }
    prevBound = b
    prevCount = c
  }
  return prevBound
}

const minus = (a: Map<number, number>, b: Map<number, number> | undefined) =>
  new Map([...a].map(([le, c]) => [le, c - (b?.get(le) ?? 0)]))

const labelValues = (m: Map<string, Json[number]>, name: string, label: string) =>
  new Set(
    (m.get(name)?.values ?? [])
      .map((v) => v.labels[label])
      .filter((x) => x !== undefined)
      .map(String),
  )

const gauge = (m: Map<string, Json[number]>, name: string, keep: (l: Labels) => boolean) => {
  const v = m.get(name)?.values.find((x) => keep(x.labels))
  return v === undefined || !Number.isFinite(v.value) ? null : v.value
}

const round = (x: number | null, digits = 3) => (x === null ? null : Number(x.toFixed(digits)))

interface Cumulative {
  t: number
  counters: Record<string, number>
  histograms: Record<string, Map<number, number>>
}

/**
 * Turns successive registry reads into samples: rates over the last read, latency quantiles over
 * the last `window` reads (so a chart of a quiet gateway is not all gaps).
 */
export function createSampleMaker(window = 10) {
  const past: Cumulative[] = []
  return (json: Json, now: number): Sample => {
    const prev = past.at(-1)
    const base = past[0]
    const m = new Map(json.map((x) => [x.name, x]))
    const isAccept = (l: Labels) => l.route === '/v1/messages' && l.method === 'POST'
    const carriers = new Set([
      ...labelValues(m, 'smsgw_carrier_circuit_state', 'carrier'),
      ...labelValues(m, 'smsgw_submit_seconds', 'carrier'),
      ...labelValues(m, 'smsgw_submit_errors_total', 'carrier'),
    ])
    const cur: Cumulative = {
      t: now,
      counters: {
        accepted: total(m, 'smsgw_messages_accepted_total'),
        dispatched: total(m, 'smsgw_dispatched_total'),
        delivered: total(m, 'smsgw_receipts_total', (l) => l.status === 'delivered'),
        rejected: total(m, 'smsgw_requests_rejected_total'),
      },
      histograms: {
        accept: buckets(m, 'smsgw_http_request_duration_seconds', isAccept),
        delivery: buckets(m, 'smsgw_delivery_seconds'),
      },
    }
    for (const c of carriers) {
      cur.histograms[`submit\u0000${c}`] = buckets(m, 'smsgw_submit_seconds', (l) => l.carrier === c)
    }
    const seconds = prev ? Math.max((now - prev.t) / 1000, 0.001) : 1
    const rate = (name: string) =>
      prev ? Math.max(0, ((cur.counters[name] ?? 0) - (prev.counters[name] ?? 0)) / seconds) : 0
    const interval = (name: string) => minus(cur.histograms[name] ?? new Map(), base?.histograms[name])
    const accept = interval('accept')
    const delivery = interval('delivery')
    const receipt = buckets(m, 'smsgw_receipt_seconds')
    const lanes = new Set([
      ...labelValues(m, 'smsgw_lane_pending', 'lane'),
      ...labelValues(m, 'smsgw_outbox_backlog', 'lane'),
    ])
    const errorsOf = (carrier: string) => {
      const out: Record<string, number> = {}
      for (const v of m.get('smsgw_submit_errors_total')?.values ?? [])
        if (v.labels.carrier === carrier)
          out[String(v.labels.kind)] = (out[String(v.labels.kind)] ?? 0) + v.value
      return out
    }
    const sample: Sample = {
      t: now,
      accepted_per_s: round(rate('accepted'), 2) ?? 0,
      dispatched_per_s: round(rate('dispatched'), 2) ?? 0,
      delivered_per_s: round(rate('delivered'), 2) ?? 0,
      rejected_per_s: round(rate('rejected'), 2) ?? 0,
      accept_p50_ms: round(mul(quantile(0.5, accept), 1000), 2),
      accept_p99_ms: round(mul(quantile(0.99, accept), 1000), 2),
      delivery_p50_s: round(quantile(0.5, delivery)),
      delivery_p95_s: round(quantile(0.95, delivery)),
      receipt_p50_s: round(quantile(0.5, receipt)),
      receipt_p95_s: round(quantile(0.95, receipt)),
      totals: {
        accepted: cur.counters.accepted ?? 0,
        delivered: cur.counters.delivered ?? 0,
        rejected: cur.counters.rejected ?? 0,
        receipts_parked: gauge(m, 'smsgw_receipts_parked', () => true),
      },
      lanes: [...lanes].map((lane) => ({
        lane,
        outbox: gauge(m, 'smsgw_outbox_backlog', (l) => l.lane === lane),
        pending: gauge(m, 'smsgw_lane_pending', (l) => l.lane === lane),
      })),
      carriers: [...carriers].sort().map((name) => {
        const state = gauge(m, 'smsgw_carrier_circuit_state', (l) => l.carrier === name)
        const all = cur.histograms[`submit\u0000${name}`] ?? new Map()
        const inf = all.get(Number.POSITIVE_INFINITY) ?? 0
        const before = prev?.histograms[`submit\u0000${name}`]?.get(Number.POSITIVE_INFINITY) ?? inf
        return {
          name,
          circuit: state === null ? null : (CIRCUIT[state] ?? String(state)),
          window_in_use: gauge(m, 'smsgw_carrier_window_in_use', (l) => l.carrier === name),
          submits_per_s: round(prev ? Math.max(0, inf - before) / seconds : 0, 2) ?? 0,
          submit_p50_ms: round(mul(quantile(0.5, all), 1000), 2),
          submit_p99_ms: round(mul(quantile(0.99, all), 1000), 2),
          errors: errorsOf(name),
          receipts: total(m, 'smsgw_carrier_receipts_total', (l) => l.carrier === name),
        }
      }),
    }
    past.push(cur)
    if (past.length > window) past.shift()
    return sample
  }
}

const mul = (x: number | null, f: number) => (x === null ? null : x * f)

export interface MetricsSampler {
  /** The last samples (oldest first) and every new one until the returned function is called. */
  subscribe(onSample: (s: Sample) => void): { history: Sample[]; unsubscribe: () => void }
  /** One fresh sample (for GET /dashboard/api/metrics). */
  latest(): Promise<Sample>
  stop(): void
}

/** One timer per process, started by the first subscriber and stopped with the last. */
export function createMetricsSampler(
  registry: Registry,
  opts: { intervalMs?: number; keep?: number; onError?: (err: unknown) => void } = {},
): MetricsSampler {
  const intervalMs = opts.intervalMs ?? 1000
  const keep = opts.keep ?? 300
  const make = createSampleMaker()
  const history: Sample[] = []
  const subscribers = new Set<(s: Sample) => void>()
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  const read = async () => {
    const sample = make(await registry.getMetricsAsJSON(), Date.now())
    history.push(sample)
    if (history.length > keep) history.shift()
    return sample
  }
  const tick = async () => {
    timer = undefined
    try {
      const sample = await read()
      for (const s of subscribers) s(sample)
    } catch (err) {
      opts.onError?.(err)
    }
    if (subscribers.size > 0 && !stopped) timer = setTimeout(tick, intervalMs)
  }
  return {
    subscribe(onSample) {
      subscribers.add(onSample)
      if (!timer && !stopped) timer = setTimeout(tick, 0)
      return {
        history: [...history],
        unsubscribe: () => {
          subscribers.delete(onSample)
        },
      }
    },
    latest: read,
    stop() {
      stopped = true
      clearTimeout(timer)
      subscribers.clear()
    },
  }
}
