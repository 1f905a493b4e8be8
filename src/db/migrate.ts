import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Db, Queryable } from './db.ts'

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations')
/** Arbitrary constant: the advisory lock every migrating process takes. */
const MIGRATION_LOCK = 7_200_731_001

export interface Migration {
  version: number
  name: string
  sql: string
}

export class SchemaTooNewError extends Error {
  readonly code = 'schema_too_new'
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 4)),
      name: f.replace(/\.sql$/, ''),
      sql: readFileSync(join(dir, f), 'utf8'),
    }))
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so two processes
 * migrating at once serialize and the second finds nothing to do. Refuses to run against a
 * database migrated by newer code.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<{ applied: string[] }> {
  const latest = migrations.at(-1)?.version ?? 0
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const done = await appliedVersions(tx)
    const newest = Math.max(0, ...done)
    if (newest > latest) {
      throw new SchemaTooNewError(
        `database schema is at version ${newest} but this smsgw knows only up to ${latest}; upgrade smsgw`,
      )
    }
    const applied: string[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      await tx.exec(m.sql)
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      applied.push(m.name)
    }
    return { applied }
  })
}

async function appliedVersions(tx: Queryable): Promise<Set<number>> {
  const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations')
  return new Set(rows.map((r) => Number(r.version)))
}
