// Child processes the chaos run owns outside bench/server-process.ts (PostgreSQL, nats-server):
// killed with their process group if the run ends abruptly, waited for with a deadline.
import type { ChildProcess } from 'node:child_process'

const live = new Set<number>()

process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // ESRCH: already gone.
    }
  }
})

/** Kills the (detached) child's process group when this process exits; returns the undo. */
export function killOnExit(pid: number): () => void {
  live.add(pid)
  return () => live.delete(pid)
}

/** Resolves true once the child has exited, false if it is still running after `ms`. */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

let shuttingDown = false

/** The run is ending (done, Ctrl-C, watchdog): supervisors must not start processes again. */
export function markShuttingDown(): void {
  shuttingDown = true
}

export const isShuttingDown = () => shuttingDown

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
