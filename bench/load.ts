// One load scenario: a warm-up run whose numbers are thrown away (JIT, connection pools, caches),
// then the measured run. Latency is recorded here with microsecond resolution, because
// autocannon's own histogram has whole milliseconds and the bare ceiling lives below that.
import { createHistogram } from 'node:perf_hooks'
import autocannon from 'autocannon'
import type { Generator } from './generator.ts'
import { machineBusySeconds } from './machine.ts'
import { processCpuSeconds } from './proc-cpu.ts'

export interface LoadSpec {
  name: string
  url: string
  connections: number
  durationS: number
  warmupS: number
  generator: Generator
  /** The server's pid, to report its CPU use; unknown for --target. */
  serverPid?: number
  /**
   * The PostgreSQL backends serving the server (read after the warm-up, when its pool is open),
   * to report their CPU use; unset for --target.
   */
  backendPids?: () => Promise<number[]>
  /** Requests per second over all connections (autocannon `overallRate`); unset: closed loop. */
  overallRate?: number
  /** Stops the run early, e.g. when the server process exits. */
  signal?: AbortSignal
}

export interface LatencyMs {
  p50: number
  p90: number
  p99: number
  p99_9: number
  max: number
  mean: number
}

export interface LoadResult {
  name: string
  connections: number
  seconds: number
  sent: number
  accepted: number
  acceptedPerSec: number
  non2xx: number
  statusCodes: Record<string, number>
  errors: number
  timeouts: number
  /** Over 2xx responses only: the accept path, not fast rejections. */
  latencyMs: LatencyMs
  /**
   * CPU used during the measured run, in % of one core (a 2-core machine tops out at 200).
   * `machine` is everything busy on the box; minus generator and server that is PostgreSQL and
   * anything else running, which in the bare scenario should be close to 0.
   */
  cpuPct: { loadGenerator: number; server: number | null; postgres: number | null; machine: number }
  /** CPU per accepted message, µs: the server process and its PostgreSQL backends. */
  cpuUsPerAccepted: { server: number | null; postgres: number | null }
}

/** CPU seconds of each process that could be read (a backend may exit: a pool closing an idle connection). */
function cpuByPid(pids: number[]): Map<number, number> {
  const out = new Map<number, number>()
  for (const pid of pids) {
    const s = processCpuSeconds(pid)
    if (s !== undefined) out.set(pid, s)
  }
  return out
}

/** CPU used between two readings by the processes read at both ends; null if none was. */
function cpuDelta(before: Map<number, number>, after: Map<number, number>): number | null {
  let sum = 0
  let n = 0
  for (const [pid, s] of after) {
    const b = before.get(pid)
    if (b === undefined) continue
    sum += s - b
    n++
  }
  return n > 0 ? sum : null
}

const REQUEST_TIMEOUT_S = 10

type OnResponse = (status: number, ms: number) => void

function runAutocannon(
  spec: LoadSpec,
  durationS: number,
  onResponse?: OnResponse,
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    let guard: NodeJS.Timeout | undefined
    const finish = (err: unknown, result?: autocannon.Result) => {
      clearTimeout(guard)
      spec.signal?.removeEventListener('abort', stop)
      if (err || !result) reject(err instanceof Error ? err : new Error(`autocannon failed: ${String(err)}`))
      else resolve(result)
    }
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: durationS,
        timeout: REQUEST_TIMEOUT_S,
        ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
        requests: [
          {
            method: 'POST',
            path: '/v1/messages',
            setupRequest: (request) => {
              const parts = spec.generator.next()
              return { ...request, headers: parts.headers, body: parts.body }
            },
          },
        ],
      },
      finish,
    )
    if (onResponse) instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms))
    const stop = () => instance.stop()
    spec.signal?.addEventListener('abort', stop, { once: true })
    // Autocannon ends by itself after `duration`; this only fires if it wedges.
    guard = setTimeout(
      () => {
        instance.stop()
        guard = setTimeout(() => finish(new Error(`${spec.name}: autocannon did not finish`)), 10_000)
      },
      (durationS + REQUEST_TIMEOUT_S + 10) * 1000,
    )
  })
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupS > 0) {
    console.error(`  ${spec.name}: warm-up ${spec.warmupS} s`)
    await runAutocannon(spec, spec.warmupS)
    throwIfAborted(spec)
  }
  spec.generator.hits.fill(0)
  console.error(`  ${spec.name}: measuring ${spec.durationS} s with ${spec.connections} connections`)

  const latency = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 })
  const pgPids = spec.backendPids ? await spec.backendPids() : []
  const cpuBefore = process.cpuUsage()
  const pgCpuBefore = cpuByPid(pgPids)
  const serverCpuBefore = spec.serverPid ? processCpuSeconds(spec.serverPid) : undefined
  const machineBefore = machineBusySeconds()
  const wallBefore = performance.now()
  const result = await runAutocannon(spec, spec.durationS, (status, ms) => {
    if (status >= 200 && status < 300) latency.record(Math.max(1, Math.round(ms * 1000)))
  })
  const wallS = (performance.now() - wallBefore) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const serverCpuAfter = spec.serverPid ? processCpuSeconds(spec.serverPid) : undefined
  const pgCpuAfter = cpuByPid(pgPids)
  const machineBusy = machineBusySeconds() - machineBefore
  throwIfAborted(spec)

  const us = (p: number) => (latency.count > 0 ? latency.percentile(p) / 1000 : 0)
  const statusCodes: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0
  const accepted = result['2xx']
  const serverCpuS =
    serverCpuBefore !== undefined && serverCpuAfter !== undefined ? serverCpuAfter - serverCpuBefore : null
  const pgCpuS = cpuDelta(pgCpuBefore, pgCpuAfter)
  const perAccepted = (s: number | null) => (s === null || accepted === 0 ? null : (s / accepted) * 1e6)
  return {
    name: spec.name,
    connections: spec.connections,
    seconds: result.duration,
    sent: result.requests.sent,
    accepted,
    acceptedPerSec: result.duration > 0 ? accepted / result.duration : 0,
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: {
      p50: us(50),
      p90: us(90),
      p99: us(99),
      p99_9: us(99.9),
      max: latency.count > 0 ? latency.max / 1000 : 0,
      mean: latency.count > 0 ? latency.mean / 1000 : 0,
    },
    cpuPct: {
      loadGenerator: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
      server: serverCpuS === null ? null : (serverCpuS / wallS) * 100,
      postgres: pgCpuS === null ? null : (pgCpuS / wallS) * 100,
      machine: (machineBusy / wallS) * 100,
    },
    cpuUsPerAccepted: { server: perAccepted(serverCpuS), postgres: perAccepted(pgCpuS) },
  }
}

function throwIfAborted(spec: LoadSpec): void {
  if (spec.signal?.aborted) throw new Error(`${spec.name} stopped: ${(spec.signal.reason as Error).message}`)
}
