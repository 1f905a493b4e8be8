// `smsgw reconcile`: the invariants checked on a database (and simulators), as a table or JSON.
// Exit status: 0 every check passed, 1 a check failed (or the database could not be checked),
// 2 usage error. The chaos harness and the benchmark parse `--json`.

import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config/config.ts'
import { NoSchemaError, reconcile } from '../reconcile/reconcile.ts'
import { formatReport } from '../reconcile/report-table.ts'
import { openDb } from './runtime.ts'

export const RECONCILE_USAGE = `usage: smsgw reconcile [--database-url URL] [--sim URL]... [--settled] [--stall-after S] [--json]
  --database-url URL  PostgreSQL to check (default DATABASE_URL; without either, the embedded
                      database in SMSGW_DATA_DIR)
  --sim URL           a carrier simulator's HTTP base URL: GET <URL>/counters must show no
                      message accepted twice (repeatable)
  --settled           the system is quiescent: any message not final (and not scheduled for
                      later) counts as lost
  --stall-after S     without --settled, a pending message nothing has moved for S seconds
                      counts as lost (default 600)
  --json              print the report as JSON
exit status: 0 all checks pass, 1 a check failed, 2 usage error`

interface Io {
  out: (s: string) => void
  err: (s: string) => void
}

const usage = (io: Io, msg: string) => {
  io.err(`smsgw reconcile: ${msg}\n\n${RECONCILE_USAGE}`)
  return 2
}

/** Runs the command; returns the exit status. */
export async function runReconcile(argv: string[], io: Io): Promise<number> {
  let args: ReturnType<typeof parse>
  try {
    args = parse(argv)
  } catch (err) {
    return usage(io, err instanceof Error ? err.message : String(err))
  }
  const v = args.values
  if (v.help) {
    io.out(RECONCILE_USAGE)
    return 0
  }
  if (args.positionals.length > 0) return usage(io, `unexpected argument '${args.positionals[0]}'`)
  const stallAfterS = v['stall-after'] === undefined ? 600 : Number(v['stall-after'])
  if (!Number.isFinite(stallAfterS) || stallAfterS < 0)
    return usage(io, `--stall-after: expected seconds >= 0, got '${v['stall-after']}'`)
  for (const url of v.sim ?? []) if (!URL.canParse(url)) return usage(io, `--sim: not a URL: '${url}'`)

  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(v['database-url'] ? { ...process.env, DATABASE_URL: v['database-url'] } : process.env)
  } catch (err) {
    if (err instanceof ConfigError) return usage(io, err.message)
    throw err
  }
  const dataDir = join(resolve(config.SMSGW_DATA_DIR), 'pglite')
  // Opening an embedded database creates it; an empty one is no database to check.
  if (!config.DATABASE_URL && !existsSync(dataDir))
    return usage(io, `no database: set --database-url or DATABASE_URL (no embedded database at ${dataDir})`)
  const db = await openDb(config, 'smsgw-reconcile', { unbounded: true })
  try {
    const report = await reconcile({ db, sims: v.sim ?? [], settled: v.settled ?? false, stallAfterS })
    io.out(v.json ? JSON.stringify(report, null, 2) : formatReport(report))
    return report.ok ? 0 : 1
  } catch (err) {
    if (!(err instanceof NoSchemaError)) throw err
    io.err(`smsgw reconcile: ${err.message}`)
    return 1
  } finally {
    await db.close()
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'database-url': { type: 'string' },
      sim: { type: 'string', multiple: true },
      settled: { type: 'boolean' },
      'stall-after': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
