// The gateway under test: either spawned here against a fresh database (the default, so every
// run starts from the same empty state) or an already-running one given with --target.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AcceptOptions } from './accept-options.ts'
import { type PgInfo, pgInfo, recreateDatabase } from './bench-db.ts'
import { onCleanup } from './cleanup.ts'
import { freePort } from './free-port.ts'
import { startServer } from './server-process.ts'

/** BENCH_DATABASE overrides it, so two worktrees can run the accept bench without dropping each other's database. */
export const BENCH_DATABASE = process.env.BENCH_DATABASE || 'smsgw_bench'

export interface Gateway {
  mode: 'spawned' | 'external'
  url: string
  adminToken: string
  /** Known only for a spawned gateway. */
  pid: number | undefined
  exitSignal: AbortSignal | undefined
  /** The bench database, to CHECKPOINT between scenarios; null for --target. */
  dbUrl: string | null
  pg: PgInfo | null
  /** Recent server output for error messages; empty for --target. */
  outputTail(): string
  stop(): Promise<void>
}

/** Fresh database plus the durability check; done before anything slow so a bad setup fails fast. */
export async function prepareDatabase(options: AcceptOptions): Promise<{ dbUrl: string; pg: PgInfo }> {
  const dbUrl = await recreateDatabase(options.pgUrl, BENCH_DATABASE)
  const pg = await pgInfo(dbUrl)
  console.error(
    `  postgres ${pg.serverVersion}, synchronous_commit=${pg.synchronousCommit}, database ${BENCH_DATABASE}`,
  )
  // With asynchronous commit an accepted message can be lost on a crash; numbers measured that
  // way would promise a throughput the durable configuration cannot deliver.
  if (pg.synchronousCommit !== 'on') {
    throw new Error(`synchronous_commit is '${pg.synchronousCommit}', the accept benchmark requires 'on'`)
  }
  return { dbUrl, pg }
}

export async function startGateway(
  options: AcceptOptions,
  repoRoot: string,
  db: { dbUrl: string; pg: PgInfo },
): Promise<Gateway> {
  const port = await freePort()
  const adminToken = randomBytes(24).toString('hex')
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-bench-'))
  onCleanup(() => rmSync(dataDir, { recursive: true, force: true }))
  const url = `http://127.0.0.1:${port}`
  console.error(`  starting ${options.serverScript} api on ${url}`)
  const server = await startServer({
    name: 'smsgw',
    // A .ts entry point (e.g. bench/mock-gateway.ts) runs through tsx; bin/smsgw.js runs the compiled build.
    args: [...(options.serverScript.endsWith('.ts') ? ['--import', 'tsx'] : []), options.serverScript, 'api'],
    cwd: repoRoot,
    env: {
      DATABASE_URL: db.dbUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      SMSGW_ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      SMSGW_DATA_DIR: dataDir,
      // An api alone refuses to start without it when NATS_URL is in the environment.
      SMSGW_WEBHOOK_SECRET_KEY: randomBytes(32).toString('base64'),
    },
    url,
    readyTimeoutMs: 60_000,
  })
  // Read again after the server's migrations, in case they changed database-level settings.
  const pg = await pgInfo(db.dbUrl)
  return {
    mode: 'spawned',
    url,
    adminToken,
    pid: server.pid,
    exitSignal: server.exitSignal,
    dbUrl: db.dbUrl,
    pg,
    outputTail: () => server.outputTail(),
    stop: () => server.stop(),
  }
}

export async function attachGateway(options: AcceptOptions): Promise<Gateway> {
  const url = options.target!
  const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(10_000) }).catch(
    (err: Error) => {
      throw new Error(`--target ${url}: ${err.cause ?? err.message}`)
    },
  )
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`--target ${url}: GET /health/ready → ${res.status}`)
  // Somebody else's database: report its durability setting if we may look, but do not refuse.
  let pg: PgInfo | null = null
  if (options.pgUrlGiven) {
    pg = await pgInfo(options.pgUrl)
    if (pg.synchronousCommit !== 'on') console.error(`  WARNING: synchronous_commit=${pg.synchronousCommit}`)
  }
  return {
    mode: 'external',
    url,
    adminToken: options.adminToken!,
    pid: undefined,
    exitSignal: undefined,
    dbUrl: null,
    pg,
    outputTail: () => '',
    stop: async () => {},
  }
}
