// A nats-server of the chaos run's own (JetStream, file store in a temp dir, a free port), so a
// broker restart never touches the machine's shared :4222.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uniquePort } from './ports.ts'
import { serverChild } from './server-child.ts'

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server'

export interface PrivateNats {
  readonly url: string
  /** Graceful stop (SIGTERM) or a crash (SIGKILL). */
  stop(mode: 'graceful' | 'kill'): Promise<void>
  /** Starts again on the same port and store directory. */
  start(): Promise<void>
  dispose(): Promise<void>
}

export async function startPrivateNats(): Promise<PrivateNats> {
  if (!existsSync(NATS_SERVER_BIN)) throw new Error(`nats-server not found at ${NATS_SERVER_BIN}`)
  const port = await uniquePort()
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-chaos-nats-'))
  const server = serverChild({
    name: `private nats-server on :${port}`,
    command: NATS_SERVER_BIN,
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    readyLine: 'Server is ready',
    readyTimeoutMs: 15_000,
  })
  const stop = (mode: 'graceful' | 'kill') => server.stop(mode === 'graceful' ? 'SIGTERM' : 'SIGKILL')
  await server.start()
  return {
    url: `nats://127.0.0.1:${port}`,
    stop,
    start: () => server.start(),
    async dispose() {
      await stop('kill')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
