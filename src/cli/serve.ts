import closeWithGrace from 'close-with-grace'
import { buildApp } from '../api/app.ts'
import type { Config } from '../config/config.ts'
import { scheduleMaintenance } from '../maintenance/maintenance.ts'
import { startBanner } from './banner.ts'
import { createLogger, openDb, openRateLimiter, prepareDb, resolveAdminToken } from './runtime.ts'

/** `smsgw start` / `smsgw api`: migrate, serve the HTTP API, run maintenance; close gracefully. */
export async function serve(config: Config, opts: { banner: boolean }): Promise<void> {
  const logger = createLogger(config)
  const db = await openDb(config, 'smsgw-api')
  await prepareDb(db)
  const stopMaintenance = scheduleMaintenance(db, (err) => logger.error({ err }, 'maintenance failed'))
  const rateLimiter = openRateLimiter(config)
  const admin = resolveAdminToken(config)
  const app = await buildApp({ config, db, adminToken: admin.token, rateLimiter, logger })

  closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    stopMaintenance()
    await app.close()
    await rateLimiter.close()
    await db.close()
  })

  const address = await app.listen({ port: config.PORT, host: config.HOST })
  if (opts.banner) {
    const tokenNote =
      admin.source === 'env'
        ? 'from SMSGW_ADMIN_TOKEN'
        : `stored in ${admin.path}${admin.source === 'generated' ? ', new' : ''}`
    const dbNote = config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.SMSGW_DATA_DIR}`
    process.stdout.write(startBanner(address, admin.token, tokenNote, dbNote))
  } else {
    logger.info({ address }, 'api listening')
  }
}
