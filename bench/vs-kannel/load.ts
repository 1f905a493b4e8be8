// The load generator of `vs-kannel`, run as its own process so its CPU is its own: N requests over
// CONC keep-alive connections (undici Pool, closed loop, one request in flight per connection),
// modelled on ../shared/kannel-bench/load.js. The same generator drives Kannel (GET sendsms) and
// smsgw (POST /v1/messages), with the same recipients and texts (`ref <seq>` lets the simulator
// count duplicate submits). Reads its spec from the VS_LOAD environment variable (JSON) and prints
// one JSON result line.
import { createHistogram, performance } from 'node:perf_hooks'
import { Pool } from 'undici'

export interface LoadSpec {
  target: 'kannel' | 'smsgw'
  base: string
  n: number
  conc: number
  startSeq: number
  /** Kannel: sendsms credentials and the DLR sink's URL. */
  kannel?: { user: string; pass: string; dlrBase: string }
  /** smsgw: the customer's API key. */
  apiKey?: string
}

export interface LoadOutput {
  t0Ms: number
  lastResponseMs: number
  accepted: number
  status: Record<string, number>
  errors: number
  firstError: string | null
  /** This process's CPU seconds from t0 to the last answer (its start-up left out). */
  cpuS: number
  latencyMs: { p50: number; p90: number; p99: number; max: number }
}

const now = () => performance.timeOrigin + performance.now()

/** GB mobiles (+44 7400 9xxxxx): the harness's +44 7700 9xxxxx is a range reserved for drama, which smsgw refuses. */
export function recipient(seq: number): string {
  return `+4474009${String(seq % 100000).padStart(5, '0')}`
}

export function text(seq: number): string {
  return `Your verification code is ${String(seq % 1000000).padStart(6, '0')}. ref ${seq}`
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.VS_LOAD ?? '{}') as LoadSpec
  const pool = new Pool(spec.base, {
    connections: spec.conc,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  })
  const request = (seq: number) => {
    if (spec.target === 'kannel') {
      const k = spec.kannel!
      const dlr = `${k.dlrBase}/dlr?id=${seq}&s=%d`
      const path =
        `/cgi-bin/sendsms?username=${k.user}&password=${k.pass}&from=ACME&to=${encodeURIComponent(recipient(seq))}` +
        `&text=${encodeURIComponent(text(seq))}&dlr-mask=3&dlr-url=${encodeURIComponent(dlr)}`
      return pool.request({ method: 'GET', path })
    }
    return pool.request({
      method: 'POST',
      path: '/v1/messages',
      headers: { authorization: `Bearer ${spec.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: recipient(seq), from: 'ACME', body: text(seq) }),
    })
  }
  // Every connection open before t0 (Kannel's listen backlog is 10: a cold burst of 100 connects
  // costs SYN retries, which is not what is measured).
  const warmPath = spec.target === 'kannel' ? '/' : '/health/live'
  await Promise.all(
    Array.from({ length: spec.conc }, async () => {
      const r = await pool.request({ method: 'GET', path: warmPath })
      await r.body.text()
    }),
  )
  const h = createHistogram()
  const status: Record<string, number> = {}
  let next = 0
  let accepted = 0
  let errors = 0
  let firstError: string | null = null
  let lastResponseMs = 0
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= spec.n) return
      const started = process.hrtime.bigint()
      try {
        const r = await request(spec.startSeq + i)
        const body = await r.body.text()
        h.record(Number(process.hrtime.bigint() - started) || 1)
        status[r.statusCode] = (status[r.statusCode] ?? 0) + 1
        if (r.statusCode === 202) accepted++
        else firstError ??= `${r.statusCode} ${body.slice(0, 200)}`
        lastResponseMs = now()
      } catch (err) {
        errors++
        firstError ??= (err as Error).message
      }
    }
  }
  const t0Ms = now()
  const cpuAtT0 = process.cpuUsage()
  await Promise.all(Array.from({ length: spec.conc }, worker))
  const cpu = process.cpuUsage(cpuAtT0)
  const ms = (ns: number) => Math.round(ns / 1e4) / 100
  const out: LoadOutput = {
    t0Ms,
    lastResponseMs,
    accepted,
    status,
    errors,
    firstError,
    cpuS: (cpu.user + cpu.system) / 1e6,
    latencyMs: {
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      max: ms(h.max),
    },
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
  await pool.close()
}

if (process.env.VS_LOAD) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('load failed:', err)
      process.exit(1)
    },
  )
}
