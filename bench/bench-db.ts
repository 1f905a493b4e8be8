// The PostgreSQL side of a run: a fresh database per run (so earlier runs' rows and bloat never
// leak into the numbers) and the server facts the report needs.
import pg from 'pg'

export interface PgInfo {
  version: string
  serverVersion: string
  synchronousCommit: string
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    statement_timeout: 60_000,
  })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

/** Drops and recreates `name` on the server behind `adminUrl`; returns the new database's URL. */
export async function recreateDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, async (client) => {
    // FORCE: a server left over from an aborted run must not block the drop.
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`)
  })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

export function pgInfo(url: string): Promise<PgInfo> {
  return withClient(url, async (client) => {
    const show = async (setting: string) => {
      const res = await client.query<Record<string, string>>(`SHOW ${setting}`)
      return res.rows[0]?.[setting] ?? 'unknown'
    }
    const version = await client.query<{ version: string }>('SELECT version()')
    return {
      version: version.rows[0]?.version ?? 'unknown',
      serverVersion: await show('server_version'),
      synchronousCommit: await show('synchronous_commit'),
    }
  })
}

/** Flushes dirty pages now so a checkpoint does not land in the middle of the next measurement. */
export function checkpoint(url: string): Promise<void> {
  return withClient(url, async (client) => {
    await client.query('CHECKPOINT')
  })
}

/**
 * The pids of the server processes of the database behind `url` (its client backends, the
 * gateway's pool), except the connection asking: whose CPU in /proc is the PostgreSQL side of a run.
 */
export function backendPids(url: string): Promise<number[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    )
    return rows.map((r) => r.pid)
  })
}
