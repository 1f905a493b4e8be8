import { createHash, randomBytes } from 'node:crypto'
import pg from 'pg'
import { loadMigrations, migrate } from '../../src/db/migrate.ts'
import { createPostgresDb } from '../../src/db/postgres.ts'
import { runMaintenance } from '../../src/maintenance/maintenance.ts'

/** The server the tests use; CI and developers have it on 127.0.0.1:5432. */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const TEMPLATE_LOCK = 7_200_731_900

const urlFor = (db: string) => {
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${db}`
  return u.toString()
}

/** Template name changes with the migrations and the UTC day (partitions are created per day). */
function templateName(): string {
  const h = createHash('sha256')
  for (const m of loadMigrations()) h.update(m.sql)
  h.update(new Date().toISOString().slice(0, 10))
  return `smsgw_tpl_${h.digest('hex').slice(0, 12)}`
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

async function ensureTemplate(): Promise<string> {
  const name = templateName()
  await withAdmin(async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK])
    try {
      const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
      if (rowCount) return
      const building = `${name}_build`
      await c.query(`DROP DATABASE IF EXISTS ${building}`)
      await c.query(`CREATE DATABASE ${building}`)
      const db = createPostgresDb({ url: urlFor(building), poolSize: 2 })
      try {
        await migrate(db)
        await runMaintenance(db)
      } finally {
        await db.close()
      }
      await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`)
      await c.query(`COMMENT ON DATABASE ${name} IS '${Date.now()}'`)
      // Older templates (other migrations or days) are dead weight once nothing clones them: a
      // template another checkout (a branch with other migrations) made in the last 6 hours stays.
      const { rows } = await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database d
          WHERE datname LIKE 'smsgw\\_tpl\\_%' AND datname <> $1 AND datname NOT LIKE '%\\_build'
            AND coalesce(nullif(shobj_description(d.oid, 'pg_database'), '')::bigint, 0) < $2`,
        [name, Date.now() - 6 * 3600_000],
      )
      for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`)
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK])
    }
  })
  return name
}

export interface FreshDatabase {
  name: string
  url: string
  drop(): Promise<void>
}

/** A new, migrated database for one test file, cloned from the template in milliseconds. */
export async function freshDatabase(): Promise<FreshDatabase> {
  const template = await ensureTemplate()
  const name = `smsgw_t_${randomBytes(6).toString('hex')}`
  await withAdmin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
  return {
    name,
    url: urlFor(name),
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  }
}

/** An empty database (for migration tests). */
export async function emptyDatabase(): Promise<FreshDatabase> {
  const name = `smsgw_e_${randomBytes(6).toString('hex')}`
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`))
  return {
    name,
    url: urlFor(name),
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  }
}
