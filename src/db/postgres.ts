import pg from 'pg'
import type { Db, Queryable, QueryOptions, QueryResult } from './db.ts'

export interface PostgresOptions {
  url: string
  /** Connections in the pool (default 10). */
  poolSize?: number
  /** Name shown in pg_stat_activity. */
  applicationName?: string
}

/** The PostgreSQL adapter (node-postgres pool). */
export function createPostgresDb(opts: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? 'smsgw',
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  })
  // An idle client losing its server (restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {})

  const query = async <R>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>> => {
    const res = opts?.name
      ? await pool.query({ name: opts.name, text: sql, values: params as unknown[] })
      : await pool.query(sql, params as unknown[])
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 }
  }

  return {
    kind: 'postgres',
    query,
    async transaction(fn) {
      const client = await pool.connect()
      let broken: Error | undefined
      // The pool listens for errors of idle clients only: a server restart while this client is
      // checked out would emit an unhandled 'error' and end the process. The query in flight fails
      // on its own; the client is then discarded, not returned to the pool.
      const onError = (err: Error) => {
        broken = err
      }
      client.on('error', onError)
      const tx: Queryable = {
        async query<R>(sql: string, params?: unknown[]) {
          const res = await client.query(sql, params as unknown[])
          return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 }
        },
        async exec(sql: string) {
          await client.query(sql)
        },
      }
      try {
        await client.query('BEGIN')
        const out = await fn(tx)
        await client.query('COMMIT')
        return out
      } catch (err) {
        try {
          await client.query('ROLLBACK')
        } catch (rollbackErr) {
          broken = rollbackErr as Error
        }
        throw err
      } finally {
        client.off('error', onError)
        client.release(broken)
      }
    },
    async exec(sql) {
      await pool.query(sql)
    },
    async close() {
      await pool.end()
    },
  }
}
