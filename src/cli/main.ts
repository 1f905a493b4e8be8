import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runCarrierSim } from '../carriers/sim/cli.ts'
import { ConfigError, loadConfig } from '../config/config.ts'
import { SchemaTooNewError } from '../db/migrate.ts'
import { InvalidAmountError } from '../domain/money.ts'
import { runReconcile } from '../reconcile/cli.ts'
import { ADMIN_USAGE, admin, UsageError } from './admin.ts'
import { openDb, prepareDb } from './runtime.ts'
import { serve } from './serve.ts'

const USAGE = `usage: smsgw <command>
  start      run every role in one process (embedded PGlite unless DATABASE_URL is set)
  api        run the HTTP API only (needs NATS_URL and DATABASE_URL)
  dispatcher run the dispatcher only (outbox → bus)
  worker     run a delivery worker only (bus → carriers; SMSGW_CARRIERS or two simulated carriers)
  carrier-sim  run the carrier simulator (SMPP + HTTP; see --help)
  migrate    apply database migrations and create partitions, then exit
  reconcile  check every invariant on the database (and simulators); exit 1 on a failure (see --help)
  bench      benchmarks: accept, e2e, sim (same as npm run bench -- …; see smsgw bench --help)
  admin      operator commands (see: smsgw admin help)
  help       this text

${ADMIN_USAGE}`

/** The `smsgw` command. Exits non-zero on any failure. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'start':
        return await serve(loadConfig(), { api: true, dispatcher: true, worker: true }, { banner: true })
      case 'api':
        return await serve(loadConfig(), { api: true, dispatcher: false, worker: false }, { banner: false })
      case 'dispatcher':
        return await serve(loadConfig(), { api: false, dispatcher: true, worker: false }, { banner: false })
      case 'worker':
        return await serve(loadConfig(), { api: false, dispatcher: false, worker: true }, { banner: false })
      case 'carrier-sim':
        await runCarrierSim(rest)
        return
      case 'migrate': {
        const db = await openDb(loadConfig(), 'smsgw-migrate', { unbounded: true })
        try {
          const applied = await prepareDb(db)
          console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date')
        } finally {
          await db.close()
        }
        return
      }
      case 'reconcile':
        process.exitCode = await runReconcile(rest, { out: console.log, err: console.error })
        return
      case 'admin':
        return await admin(loadConfig(), rest, (s) => console.log(s))
      case 'bench': {
        // The harness lives in bench/ of the source tree (it is a dev tool, like npm run bench).
        const script = fileURLToPath(new URL('../../bench/main.ts', import.meta.url))
        const res = spawnSync(process.execPath, ['--import', 'tsx', script, ...rest], { stdio: 'inherit' })
        process.exitCode = res.status ?? 1
        return
      }
      case undefined:
      case 'help':
      case '--help':
        console.log(USAGE)
        return
      default:
        throw new UsageError(`unknown command '${command}'\n\n${USAGE}`)
    }
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof ConfigError ||
      err instanceof SchemaTooNewError ||
      err instanceof InvalidAmountError
    ) {
      console.error(`smsgw: ${err.message}`)
      process.exit(2)
    }
    console.error(err)
    process.exit(1)
  }
}
