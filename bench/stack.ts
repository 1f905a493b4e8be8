// The whole pipeline for end-to-end benchmarks: `smsgw start` (api + dispatcher + worker with the
// embedded SMPP/HTTP simulator) on a fresh PostgreSQL database and its own NATS JetStream stream,
// all removed again when the run ends. Used by `e2e` and `sim`.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { recreateDatabase } from './bench-db.ts'
import { onCleanup } from './cleanup.ts'
import { freePort } from './free-port.ts'
import { type ServerProcess, startServer } from './server-process.ts'

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'

export interface StackSpec {
  /** Maintenance URL of PostgreSQL, allowed to create databases. */
  pgUrl: string
  natsUrl: string
  /** Database dropped and recreated for this run. */
  database: string
  /** Receipt delay of the embedded simulated carriers. */
  receiptDelayMs: number
  repoRoot: string
}

export interface Stack {
  url: string
  adminToken: string
  /** The run's own database, for reading results. */
  dbUrl: string
  stream: string
  server: ServerProcess
}

export async function startStack(spec: StackSpec): Promise<Stack> {
  const dbUrl = await recreateDatabase(spec.pgUrl, spec.database)
  const stream = `BENCH_${randomBytes(4).toString('hex')}`
  onCleanup(() => deleteStream(spec.natsUrl, stream))
  const port = await freePort()
  const adminToken = randomBytes(24).toString('hex')
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-e2e-'))
  onCleanup(() => rmSync(dataDir, { recursive: true, force: true }))
  const url = `http://127.0.0.1:${port}`
  const server = await startServer({
    name: 'smsgw',
    args: ['bin/smsgw.js', 'start'],
    cwd: spec.repoRoot,
    env: {
      DATABASE_URL: dbUrl,
      NATS_URL: spec.natsUrl,
      SMSGW_NATS_STREAM: stream,
      SMSGW_NATS_PREFIX: stream.toLowerCase(),
      PORT: String(port),
      HOST: '127.0.0.1',
      SMSGW_ADMIN_TOKEN: adminToken,
      SMSGW_DATA_DIR: dataDir,
      SMSGW_SIM_RECEIPT_DELAY_MS: String(spec.receiptDelayMs),
      LOG_LEVEL: 'warn',
    },
    url,
    readyTimeoutMs: 60_000,
  })
  return { url, adminToken, dbUrl, stream, server }
}

async function deleteStream(servers: string, name: string): Promise<void> {
  const nc = await connect({ servers })
  try {
    await (await jetstreamManager(nc)).streams.delete(name).catch(() => false)
  } finally {
    await nc.close()
  }
}
