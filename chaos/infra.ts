// What every scenario shares: the run's private PostgreSQL and nats-server, and a migrated
// template database that each scenario clones (CREATE DATABASE … TEMPLATE) so it starts empty.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { onCleanup } from '../bench/cleanup.ts'
import { type PrivateNats, startPrivateNats } from './private-nats.ts'
import { type PrivatePostgres, startPrivatePostgres } from './private-postgres.ts'

const REPO = join(import.meta.dirname, '..')
const TEMPLATE = 'chaos_template'

export interface Infra {
  pg: PrivatePostgres
  nats: PrivateNats
  /** A fresh, migrated database for one scenario; returns its URL. */
  createDatabase(name: string): Promise<string>
}

const ident = (name: string) => {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`)
  return name
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end().catch(() => {})
  }
}

export async function startInfra(log: (line: string) => void): Promise<Infra> {
  const started = performance.now()
  const [pgServer, nats] = await Promise.all([startPrivatePostgres(), startPrivateNats()])
  onCleanup(() => pgServer.dispose())
  onCleanup(() => nats.dispose())
  await admin(pgServer.url, `CREATE DATABASE ${TEMPLATE}`)
  await promisify(execFile)(process.execPath, [join(REPO, 'bin/smsgw.js'), 'migrate'], {
    cwd: REPO,
    env: { ...process.env, DATABASE_URL: pgServer.urlFor(TEMPLATE), LOG_LEVEL: 'warn' },
    timeout: 60_000,
  })
  log(
    `infra: PostgreSQL :${pgServer.port}, ${nats.url} (private), template migrated in ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  return {
    pg: pgServer,
    nats,
    async createDatabase(name) {
      await admin(pgServer.url, `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`)
      await admin(pgServer.url, `CREATE DATABASE ${ident(name)} TEMPLATE ${TEMPLATE}`)
      return pgServer.urlFor(name)
    },
  }
}
