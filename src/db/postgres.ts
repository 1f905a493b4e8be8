import pg from 'pg'
import type { Db, Queryable, QueryOptions, QueryResult } from './db.ts'

export interface PostgresOptions {
  url: string
  /** Connections in the pool (default 10). */
  poolSize?: number
  /** Name shown in pg_stat_activity. */
  applicationName?: string
  /** Server-side cap on one statement, ms (default 0: none — migrations and maintenance need that). */
  statementTimeoutMs?: number
  /** Longest wait for a pooled connection before a query fails with DbPoolTimeoutError, ms (default 5000). */
  connectTimeoutMs?: number
}

/**
 * No connection could be had in time: the pool is exhausted or the server does not answer.
 * `ETIMEDOUT` classes it with the other "unreachable, retry later" errors (503 at the API).
 */
export class DbPoolTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'
}

// node-postgres reports both as plain Errors: a checkout that waited too long, a connect that did.
const POOL_TIMEOUT = /^timeout exceeded when trying to connect|connection timeout/i

const classify = (err: unknown): unknown =>
  err instanceof Error && !('code' in err && err.code) && POOL_TIMEOUT.test(err.message)
    ? new DbPoolTimeoutError(`PostgreSQL: no connection available (${err.message})`, { cause: err })
    : err

/** The PostgreSQL adapter (node-postgres pool). */
export function createPostgresDb(opts: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? 'smsgw',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
  })
  // An idle client losing its server (restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {})

  const query = async <R>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<R>> => {
    const res = await (opts?.name
      ? pool.query({ name: opts.name, text: sql, values: params as unknown[] })
      : pool.query(sql, params as unknown[])
    ).catch((err: unknown) => {
      throw classify(err)
    })
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 }
  }

  return {
    kind: 'postgres',
    query,
    async transaction(fn) {
      const client = await pool.connect().catch((err: unknown) => {
        throw classify(err)
      })
      let broken: Error | undefined
      // The pool listens for errors of idle clients only: a server restart while this client is
      // checked out would emit an unhandled 'error' and end the process. The query in flight fails
      // on its own; the client is then discarded, not returned to the pool.
      const onError = (err: Error) => {
        broken = err
      }
      client.on('error', onError)
      const tx: Queryable = {
        async query<R>(sql: string, params?: unknown[], opts?: QueryOptions) {
          // A named statement is prepared once per connection here too (it was re-planned on
          // every call inside a transaction: the status relay's read, ~2 ms a pass; issue 12).
          const res = await (opts?.name
            ? client.query({ name: opts.name, text: sql, values: params as unknown[] })
            : client.query(sql, params as unknown[]))
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
      await pool.query(sql).catch((err: unknown) => {
        throw classify(err)
      })
    },
    async close() {
      await pool.end()
    },
  }
}
