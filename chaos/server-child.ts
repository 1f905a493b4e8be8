// A server binary the run owns (PostgreSQL, nats-server): started as a detached child, ready when a
// given line shows on stderr, stopped with a signal (SIGKILL if it lingers), started again at will.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { killOnExit, waitExit } from './processes.ts'

export interface ServerChildSpec {
  /** For error messages, e.g. "private nats-server on :4222". */
  name: string
  command: string
  args: string[]
  options?: SpawnOptions
  readyLine: string
  readyTimeoutMs: number
}

export interface ServerChild {
  start(): Promise<void>
  /** Sends `signal`; SIGKILL after 15 s if it is still running. */
  stop(signal: NodeJS.Signals): Promise<void>
}

export function serverChild(spec: ServerChildSpec): ServerChild {
  let proc: ChildProcess | undefined
  return {
    start: () =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(spec.command, spec.args, {
          ...spec.options,
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe'],
        })
        proc = p
        const untrack = p.pid === undefined ? () => {} : killOnExit(p.pid)
        let log = ''
        let ready = false
        const timer = setTimeout(
          () => fail(new Error(`not ready within ${spec.readyTimeoutMs / 1000} s`)),
          spec.readyTimeoutMs,
        )
        const fail = (err: Error) => {
          clearTimeout(timer)
          p.kill('SIGKILL')
          reject(new Error(`${spec.name}: ${err.message}\n${log.slice(-4000)}`))
        }
        const exitedEarly = (code: number | null, signal: NodeJS.Signals | null) => {
          untrack()
          fail(new Error(`exited (${signal ?? code})`))
        }
        p.stderr?.on('data', (chunk: Buffer) => {
          log = (log + chunk.toString()).slice(-16_000)
          // Once only: later output (its shutdown log) must not touch the exit listeners.
          if (!ready && log.includes(spec.readyLine)) {
            ready = true
            clearTimeout(timer)
            p.off('exit', exitedEarly)
            p.once('exit', untrack)
            resolve()
          }
        })
        p.once('exit', exitedEarly)
      }),
    async stop(signal) {
      const p = proc
      if (!p || p.exitCode !== null || p.signalCode !== null) return
      p.kill(signal)
      if (!(await waitExit(p, 15_000))) {
        p.kill('SIGKILL')
        await waitExit(p, 5000)
      }
    },
  }
}
