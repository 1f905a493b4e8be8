import type { Config } from '../config/config.ts'
import type { Roles } from './serve.ts'
import { USAGE, UsageError } from './usage.ts'

/** Errors that are the operator's to fix: printed as one line, exit 2 (anything else is a bug: exit 1). */
const OPERATOR_ERRORS = new Set([
  'usage',
  'invalid_config',
  'invalid_carrier_config',
  'invalid_sim_options',
  'schema_too_new',
  'invalid_amount',
])

const config = async (): Promise<Config> => (await import('../config/config.ts')).loadConfig()

async function serveRoles(roles: Roles, banner: boolean): Promise<void> {
  const { serve } = await import('./serve.ts')
  await serve(await config(), roles, { banner })
}

/** The `smsgw` command. Each command's modules are loaded only when it runs. Exits non-zero on any failure. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'start':
        return await serveRoles({ api: true, dispatcher: true, worker: true, webhooks: true }, true)
      case 'api':
        return await serveRoles({ api: true, dispatcher: false, worker: false }, false)
      case 'dispatcher':
        return await serveRoles({ api: false, dispatcher: true, worker: false }, false)
      case 'worker':
        return await serveRoles({ api: false, dispatcher: false, worker: true }, false)
      case 'webhooks':
        return await serveRoles({ api: false, dispatcher: false, worker: false, webhooks: true }, false)
      case 'carrier-sim': {
        const { CARRIER_SIM_USAGE, runCarrierSim } = await import('./carrier-sim.ts')
        if (rest.includes('--help') || rest.includes('-h')) {
          console.log(CARRIER_SIM_USAGE)
          return
        }
        await runCarrierSim(rest)
        return
      }
      case 'migrate': {
        const { openDb, prepareDb } = await import('./runtime.ts')
        const db = await openDb(await config(), 'smsgw-migrate', { unbounded: true })
        try {
          const applied = await prepareDb(db)
          console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date')
        } finally {
          await db.close()
        }
        return
      }
      case 'reconcile': {
        const { runReconcile } = await import('./reconcile.ts')
        process.exitCode = await runReconcile(rest, { out: console.log, err: console.error })
        return
      }
      case 'rollups': {
        const { runRollups } = await import('./rollups.ts')
        return await runRollups(await config(), rest, (s) => console.log(s))
      }
      case 'clickhouse': {
        const { runClickHouse } = await import('./clickhouse.ts')
        return await runClickHouse(await config(), rest, (s) => console.log(s))
      }
      case 'maintenance': {
        const { runMaintenanceCommand } = await import('./maintenance.ts')
        return await runMaintenanceCommand(await config(), rest, (s) => console.log(s))
      }
      case 'admin': {
        const { admin } = await import('./admin.ts')
        return await admin(await config(), rest, (s) => console.log(s))
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
    const code = (err as { code?: unknown } | null)?.code
    if (err instanceof Error && typeof code === 'string' && OPERATOR_ERRORS.has(code)) {
      console.error(`smsgw: ${err.message}`)
      process.exit(2)
    }
    console.error(err)
    process.exit(1)
  }
}
