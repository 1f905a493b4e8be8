// The harness side of chaos/sim-host.ts: start a simulated carrier in its own process and steer it.
import { join } from 'node:path'
import { type ServerProcess, startServer } from '../bench/server-process.ts'
import type { SimCounters, SimOptions } from '../src/carriers/sim/carrier-sim.ts'
import { uniquePort } from './ports.ts'
import type { CopiesReport, SimHostSpec } from './sim-host.ts'

const REPO = join(import.meta.dirname, '..')

export interface SimHandle {
  readonly name: string
  readonly smppPort: number
  /** Control server: GET /counters, /copies, /options; PATCH /options. */
  readonly controlUrl: string
  setOptions(patch: Partial<SimOptions>): Promise<void>
  counters(): Promise<SimCounters>
  copies(): Promise<CopiesReport>
  stop(): Promise<void>
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} → ${res.status}: ${text.slice(0, 300)}`)
  return JSON.parse(text) as T
}

export async function startSim(name: string, options: Partial<SimOptions>): Promise<SimHandle> {
  const spec: SimHostSpec = {
    controlPort: await uniquePort(),
    smppPort: await uniquePort(),
    httpPort: await uniquePort(),
    options,
  }
  const controlUrl = `http://127.0.0.1:${spec.controlPort}`
  const proc: ServerProcess = await startServer({
    name: `sim ${name}`,
    args: ['--import', 'tsx', join(REPO, 'chaos/sim-host.ts'), JSON.stringify(spec)],
    cwd: REPO,
    env: {},
    url: controlUrl,
    readyPath: '/health',
    ipc: true,
    readyTimeoutMs: 30_000,
  })
  return {
    name,
    smppPort: spec.smppPort,
    controlUrl,
    async setOptions(patch) {
      await call(`${controlUrl}/options`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(patch),
      })
    },
    counters: () => call<SimCounters>(`${controlUrl}/counters`),
    copies: () => call<CopiesReport>(`${controlUrl}/copies`),
    stop: () => proc.stop(),
  }
}
