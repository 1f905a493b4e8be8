// A PostgreSQL server of the chaos run's own (initdb into a temp dir, a free port), so restarting it
// never touches the machine's shared :5432. Runs as the `postgres` OS user: initdb refuses root.
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uniquePort } from './ports.ts'
import { serverChild } from './server-child.ts'

export const PG_BIN = process.env.CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin'

export interface PrivatePostgres {
  readonly port: number
  /** Admin URL (database `postgres`). */
  readonly url: string
  urlFor(database: string): string
  /** Immediate shutdown (SIGQUIT: no checkpoint, crash recovery at the next start) or fast (SIGINT). */
  stop(mode: 'immediate' | 'fast'): Promise<void>
  /** Starts again on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>
  /** Stops it and removes its files. */
  dispose(): Promise<void>
}

function osUser(name: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!existsSync(join(PG_BIN, 'postgres'))) {
    throw new Error(`PostgreSQL binaries not found in ${PG_BIN} (set CHAOS_PG_BIN)`)
  }
  // initdb and postgres refuse to run as root; as root we hand the directory to `postgres`.
  const user = process.getuid?.() === 0 ? osUser('postgres') : undefined
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-chaos-pg-'))
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const asUser = user ? { uid: user.uid, gid: user.gid } : {}
  execFileSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'],
    { ...asUser, stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, env: { PATH: process.env.PATH ?? '' } },
  )
  const port = await uniquePort()
  const settings = {
    listen_addresses: '127.0.0.1',
    // A throwaway server: durability against power loss is not what is tested here.
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: '300',
    shared_buffers: '128MB',
  }
  const server = serverChild({
    name: `private PostgreSQL on :${port}`,
    command: join(PG_BIN, 'postgres'),
    args: [
      ...['-D', data, '-p', String(port), '-k', dir],
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    options: { ...asUser, cwd: dir },
    readyLine: 'database system is ready to accept connections',
    readyTimeoutMs: 30_000,
  })
  const stop = (mode: 'immediate' | 'fast') => server.stop(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT')
  await server.start()
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop,
    start: () => server.start(),
    async dispose() {
      await stop('immediate')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
