import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pino, { type Logger } from 'pino'
import type { Config } from '../config/config.ts'
import type { Db } from '../db/db.ts'
import { migrate } from '../db/migrate.ts'
import { createPgliteDb } from '../db/pglite.ts'
import { createPostgresDb } from '../db/postgres.ts'
import { createMemoryRateLimiter, type RateLimiter } from '../limits/rate-limiter.ts'
import { createRedisRateLimiter } from '../limits/redis-rate-limiter.ts'
import { runMaintenance } from '../maintenance/maintenance.ts'
import { ensureDataDir } from './data-dir.ts'

export function createLogger(config: Config): Logger {
  return pino({
    level: config.LOG_LEVEL,
    redact: {
      paths: ['req.headers.authorization', '*.api_key', '*.secret', '*.webhook_secret', '*.to', '*.body'],
      censor: '[redacted]',
    },
  })
}

/**
 * PostgreSQL when DATABASE_URL is set, else PGlite with its files in the data dir. Statements
 * are capped by SMSGW_STATEMENT_TIMEOUT_MS unless `unbounded` (migrations, maintenance, admin
 * scripts: a partition detach or a redaction may rightly take minutes).
 */
export async function openDb(
  config: Config,
  role = 'smsgw',
  opts: { unbounded?: boolean; poolSize?: number } = {},
): Promise<Db> {
  if (config.DATABASE_URL) {
    return createPostgresDb({
      url: config.DATABASE_URL,
      poolSize: opts.poolSize ?? config.SMSGW_DB_POOL,
      applicationName: role,
      statementTimeoutMs: opts.unbounded ? 0 : config.SMSGW_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: config.SMSGW_DB_CONNECT_TIMEOUT_MS,
    })
  }
  const dir = resolve(config.SMSGW_DATA_DIR)
  ensureDataDir(dir)
  return createPgliteDb(join(dir, 'pglite'))
}

/** A pool on DATABASE_READ_URL (a replica) for list, usage and report reads; undefined without one. */
export function openReadDb(config: Config, role: string): Db | undefined {
  if (!config.DATABASE_READ_URL) return undefined
  return createPostgresDb({
    url: config.DATABASE_READ_URL,
    poolSize: config.SMSGW_DB_POOL,
    applicationName: `${role}-read`,
    statementTimeoutMs: config.SMSGW_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: config.SMSGW_DB_CONNECT_TIMEOUT_MS,
  })
}

/** Migrates, then creates the partitions the next days need. */
export async function prepareDb(db: Db): Promise<string[]> {
  const { applied } = await migrate(db)
  await runMaintenance(db)
  return applied
}

export function openRateLimiter(config: Config): RateLimiter {
  return config.REDIS_URL ? createRedisRateLimiter(config.REDIS_URL) : createMemoryRateLimiter()
}

/** SMSGW_ADMIN_TOKEN, else the token stored in the data dir, else a new one stored there. */
export function resolveAdminToken(config: Config): {
  token: string
  source: 'env' | 'file' | 'generated'
  path?: string
} {
  if (config.SMSGW_ADMIN_TOKEN) return { token: config.SMSGW_ADMIN_TOKEN, source: 'env' }
  const dir = resolve(config.SMSGW_DATA_DIR)
  const path = join(dir, 'admin-token')
  ensureDataDir(dir)
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), source: 'file', path }
  const token = `adm_${randomBytes(24).toString('base64url')}`
  // 'wx': never follow or overwrite a file that appeared meanwhile; the mode applies on creation.
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  return { token, source: 'generated', path }
}
