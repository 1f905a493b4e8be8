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

export function machineInfo(repoRoot: string): MachineInfo {
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
    revision: gitRevision(repoRoot),
    pg: null,
  }
}
