import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import pg from 'pg'
import { acceptBatch } from '../../../src/billing/accept-batch.ts'
import type { Db } from '../../../src/db/db.ts'
import { createPostgresDb } from '../../../src/db/postgres.ts'
import type { ReconcileReport } from '../../../src/reconcile/reconcile.ts'
import { BIN } from '../../helpers/bin.ts'
import { acceptRequest, renderStub } from '../../helpers/messages.ts'
import { type FreshDatabase, PG_ADMIN_URL } from '../../helpers/pg.ts'

const exec = promisify(execFile)

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** `smsgw reconcile …` as a subprocess, the way an operator or the chaos harness runs it. */
export async function smsgwReconcile(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliRun> {
  const { DATABASE_URL: _, ...rest } = process.env
  try {
    const r = await exec(process.execPath, [BIN, 'reconcile', ...args], {
      env: { ...rest, LOG_LEVEL: 'warn', ...env },
      timeout: 60_000,
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Runs `reconcile --json` and returns the exit code, the report and the names of the failed checks. */
export async function reconcileJson(url: string, ...args: string[]) {
  const run = await smsgwReconcile(['--database-url', url, '--json', ...args])
  if (run.code !== 0 && run.code !== 1) throw new Error(`reconcile exited ${run.code}: ${run.stderr}`)
  const report = JSON.parse(run.stdout) as ReconcileReport
  return { code: run.code, report, failed: report.checks.filter((c) => !c.ok).map((c) => c.name) }
}

/** A scratch copy of `source` (which must have no open connections) to plant one fault in. */
export async function cloneDatabase(source: FreshDatabase): Promise<FreshDatabase> {
  const name = `smsgw_r_${randomBytes(6).toString('hex')}`
  const create = (c: pg.Client) => c.query(`CREATE DATABASE ${name} TEMPLATE ${source.name}`)
  // A session that just closed may still be leaving the source database for a few ms.
  for (let tries = 0; ; tries++) {
    try {
      await withClient(PG_ADMIN_URL, create)
      break
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || tries >= 50) throw err
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const url = new URL(source.url)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    drop: () =>
      withClient(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  }
}

/** Runs fn over a one-connection pool of the database (for the modules that take a Db). */
export async function withDb<T>(url: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createPostgresDb({ url, poolSize: 1 })
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

/** Accepts one message for the database's first customer, as the biller would (charge + outbox). */
export async function acceptOne(db: Db): Promise<{ id: string; createdAt: string }> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM customers ORDER BY id LIMIT 1')
  const req = acceptRequest(rows[0]?.id ?? '')
  await db.transaction((tx) => acceptBatch(tx, [req], renderStub))
  return { id: req.message.id, createdAt: req.message.createdAt.toISOString() }
}

/**
 * Runs fn on one connection to the database. `replica: true` sets session_replication_role so the
 * append-only triggers do not fire in this session — how a fault is planted past them.
 */
export async function withClient<T>(
  url: string,
  fn: (c: pg.Client) => Promise<T>,
  opts: { replica?: boolean } = {},
): Promise<T> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    if (opts.replica) await c.query('SET session_replication_role = replica')
    return await fn(c)
  } finally {
    await c.end()
  }
}

/** A seeded PRNG (mulberry32), so the simulator's outcome mix is the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
