// What the numbers were measured on; results from different boxes are not comparable without it.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import type { PgInfo } from './bench-db.ts'

export interface MachineInfo {
  cpus: number
  cpuModel: string
  memoryGiB: number
  platform: string
  kernel: string
  arch: string
  node: string
  loadAvg1mAtStart: number
  /** CPU busy over one second just before the run, in % of one core: should be near 0. */
  busyPctAtStart: number
  /** git revision of the code under test, with "-dirty" for uncommitted changes; null outside git. */
  revision: string | null
  /** Filled in once a database connection is known; null when there is none (bare only, --target). */
  pg: PgInfo | null
}

function gitRevision(cwd: string): string | null {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd, timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  try {
    const rev = git('rev-parse', '--short', 'HEAD')
    return git('status', '--porcelain') === '' ? rev : `${rev}-dirty`
  } catch {
    return null
  }
}

/** Non-idle CPU seconds summed over all cores since boot. */
export function machineBusySeconds(): number {
  let ms = 0
  for (const { times } of os.cpus()) ms += times.user + times.nice + times.sys + times.irq
  return ms / 1000
}

// The load average trails by minutes, so whether the box is quiet *now* is sampled directly.
async function busyPct(sampleMs: number): Promise<number> {
  const before = machineBusySeconds()
  await new Promise((resolve) => setTimeout(resolve, sampleMs))
  return ((machineBusySeconds() - before) / (sampleMs / 1000)) * 100
}

export async function machineInfo(repoRoot: string): Promise<MachineInfo> {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    kernel: os.release(),
    arch: os.arch(),
    node: process.version,
    loadAvg1mAtStart: os.loadavg()[0] ?? 0,
    busyPctAtStart: Math.round(await busyPct(1000)),
    revision: gitRevision(repoRoot),
    pg: null,
  }
}
