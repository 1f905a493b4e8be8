/** The data-layer port: everything above `db/` speaks this, never `pg` or PGlite directly. */
export interface QueryResult<R> {
  rows: R[]
  rowCount: number
}

export interface QueryOptions {
  /** Prepare once per connection under this name (hot statements skip re-planning; PGlite ignores it). */
  name?: string
}

export interface Queryable {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    opts?: QueryOptions,
  ): Promise<QueryResult<R>>
  /** Runs a script of several statements, no parameters (migrations, DDL). */
  exec(sql: string): Promise<void>
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite'
  /** Runs fn in one transaction (READ COMMITTED); commits on resolve, rolls back on throw. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** A database error the caller can classify (serialization failure, deadlock, unreachable). */
export function pgErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}
