// The server side of `npm run bench -- streams`: an api over PostgreSQL and the in-process bus, in
// its own process so its memory is the streams' alone. Prints one JSON line with its URL and the
// customers' keys once listening; GET /bench/memory answers its memory after a full GC.
import { randomBytes } from 'node:crypto'
import { buildApp } from '../src/api/app.ts'
import { createMemoryBus } from '../src/bus/memory-bus.ts'
import { loadConfig } from '../src/config/config.ts'
import { migrate } from '../src/db/migrate.ts'
import { createPostgresDb } from '../src/db/postgres.ts'
import { createMemoryRateLimiter } from '../src/limits/rate-limiter.ts'

const [url, customersArg] = process.argv.slice(2)
if (!url || !customersArg) throw new Error('usage: stream-server.ts <database url> <customers>')
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')

const config = loadConfig({ SMSGW_DB_POOL: '4' })
const db = createPostgresDb({ url, poolSize: config.SMSGW_DB_POOL })
await migrate(db)
const bus = createMemoryBus()
const adminToken = `adm_${randomBytes(16).toString('hex')}`
const app = await buildApp({ config, db, adminToken, rateLimiter: createMemoryRateLimiter(), bus })
app.get('/bench/memory', async () => {
  gc()
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
})
const keys: string[] = []
for (let i = 0; i < Number(customersArg); i++) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/admin/customers',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { name: `stream-${i}` },
  })
  keys.push((res.json() as { api_key: string }).api_key)
}
const address = await app.listen({ host: '127.0.0.1', port: 0 })
console.log(JSON.stringify({ url: address, keys }))
process.on('SIGTERM', () => {
  void app.close().then(async () => {
    await bus.close()
    await db.close()
    process.exit(0)
  })
})
