/** A private nats-server for tests that kill and restart the broker (never the shared one). */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server'
export const hasNatsServer = () => existsSync(NATS_SERVER_BIN)

export interface PrivateNats {
  readonly url: string
  /** kill -9: no shutdown, no flush — what a crash or OOM kill does. */
  kill(): Promise<void>
  /** Starts again on the same port and store directory. */
  start(): Promise<void>
  /** Kills it and removes its store. */
  dispose(): Promise<void>
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const address = srv.address()
  await new Promise((r) => srv.close(r))
  if (!address || typeof address === 'string') throw new Error('no port')
  return address.port
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-nats-'))
  let proc: ChildProcess | undefined

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      proc = p
      let log = ''
      const timer = setTimeout(() => fail(new Error(`nats-server not ready in 10 s:\n${log}`)), 10_000)
      const fail = (err: Error) => {
        clearTimeout(timer)
        p.kill('SIGKILL')
        reject(err)
      }
      p.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString()
        if (log.includes('Server is ready')) {
          clearTimeout(timer)
          p.stderr?.removeAllListeners('data')
          p.stderr?.resume()
          resolve()
        }
      })
      p.once('exit', (code) => fail(new Error(`nats-server exited (${code}):\n${log}`)))
    })

  const kill = async () => {
    const p = proc
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    p.removeAllListeners('exit')
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
  }

  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    kill,
    start,
    async dispose() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
