// The JSON result of a sim run: what was asked, what was offered, what the server did.
import type { MachineInfo } from '../machine.ts'
import type { Analysis } from './analyze.ts'
import type { TrafficParams, Window } from './model.ts'
import type { SimOptions } from './options.ts'
import type { Drain } from './outcomes.ts'
import type { Reconciliation } from './reconcile-hook.ts'

export interface SimResult {
  benchmark: 'sim'
  startedAt: string
  finishedAt: string
  /** Without the admin token or a database password. */
  options: Omit<SimOptions, 'adminToken'>
  target: { mode: 'spawned' | 'external'; url: string }
  machine: MachineInfo
  model: { seed: number; params: TrafficParams; floods: Window[]; campaigns: Window[] }
  setup: { customers: number; seconds: number }
  receiptDelayMs: number
  /** Where delivered times were read. */
  latencySource: string
  drain: Drain
  /** Non-2xx answers by status and failed requests by error code. */
  errors: Record<string, number>
  analysis: Analysis
  /** CPU during the load in % of one core: this sender, the smsgw process (null with --target), the whole machine. */
  cpuPct: { sender: number; server: number | null; machine: number }
  /** null with --target (no database of ours to check). */
  reconciliation: Reconciliation | null
  notes: string[]
}
