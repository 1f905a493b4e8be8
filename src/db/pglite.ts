import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import type { Db, Queryable, QueryResult } from './db.ts'

/**
 * The embedded adapter: PostgreSQL in WASM, in-process. One connection, so PGlite itself
 * serializes queries and transactions; the SQL is the same as on the server.
 * `dataDir` undefined → in memory (tests).
 */
export async function createPgliteDb(dataDir?: string): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const pg = dataDir ? await PGlite.create(dataDir) : await PGlite.create()

  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
      const res = await q.query<R>(sql, params)
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length }
    },
    async exec(sql: string) {
      await q.exec(sql)
    },
  })

  return {
    kind: 'pglite',
    ...wrap(pg),
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async close() {
      await pg.close()
    },
  }
}
