// The status writer's two statements (lock, apply) for groups of 10 messages on a database with
// 38 daily partitions: PostgreSQL backend CPU per group, unnamed (parsed and planned each time) vs
// prepared (plan_cache_mode auto, force_custom_plan, force_generic_plan), each mode twice on a
// fresh connection. Every group is rolled back, so all rounds see the same data. Run:
//   node --import tsx bench/prepared-status.ts        (PostgreSQL on 127.0.0.1:5432)
// Figures: docs/performance.md (third session of 2026-12-07).

import { readFileSync } from 'node:fs'
import pg from 'pg'
import { ensurePartitions } from '../src/db/partitions.ts'
import { createPostgresDb } from '../src/db/postgres.ts'
import { APPLY_SQL, LOCK_SQL } from '../src/events/status-writer.ts'
import { acceptMany, fundedCustomer } from '../test/helpers/messages.ts'
import { freshDatabase } from '../test/helpers/pg.ts'

const GROUPS = 1000
const GROUP = 10
const MODES = ['unnamed', 'auto', 'force_custom_plan', 'force_generic_plan'] as const

const fresh = await freshDatabase()
try {
  const db = createPostgresDb({ url: fresh.url, poolSize: 2 })
  await ensurePartitions(db, Date.now(), 7, 30)
  const customer = await fundedCustomer(db)
  await acceptMany(db, customer, 4000)
  const { rows: messages } = await db.query<{ id: string; created_at: Date }>(
    'SELECT id, created_at FROM messages ORDER BY id',
  )
  const { rows: parts } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'messages'::regclass",
  )
  await db.close()
  console.log(`messages partitions: ${parts[0]?.n}; ${GROUPS} groups of ${GROUP} per round`)

  for (const mode of [...MODES, ...MODES]) {
    const client = new pg.Client({ connectionString: fresh.url })
    await client.connect()
    if (mode !== 'unnamed' && mode !== 'auto') await client.query(`SET plan_cache_mode = ${mode}`)
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const backendCpuMs = () => {
      const f = readFileSync(`/proc/${rows[0]?.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      return (Number(f[11]) + Number(f[12])) * 10
    }
    const q = (name: string, text: string, values: unknown[]) =>
      mode === 'unnamed' ? client.query(text, values) : client.query({ name, text, values })
    const cpu0 = backendCpuMs()
    const t0 = performance.now()
    for (let i = 0; i < GROUPS; i++) {
      const at = (i * GROUP) % (messages.length - GROUP)
      const g = messages.slice(at, at + GROUP)
      const times = g.map((m) => +m.created_at)
      const lo = new Date(Math.min(...times) - 1000).toISOString()
      const hi = new Date(Math.max(...times) + 1000).toISOString()
      await client.query('BEGIN')
      await q('status_lock', LOCK_SQL, [g.map((m) => m.id), g.map((m) => m.created_at), lo, hi])
      await q('status_apply', APPLY_SQL, [
        g.map((m) => m.id),
        g.map(() => customer),
        g.map(() => 'sending'),
        g.map(() => null),
        new Date().toISOString(),
        g.map((m) => m.id),
        g.map((m) => m.created_at),
        g.map(() => 'sending'),
        lo,
        hi,
      ])
      await client.query('ROLLBACK')
    }
    const wall = (performance.now() - t0) / GROUPS
    const cpu = (backendCpuMs() - cpu0) / GROUPS
    console.log(`${mode.padEnd(18)} backend CPU ${cpu.toFixed(3)} ms/group, wall ${wall.toFixed(3)} ms/group`)
    await client.end()
  }
} finally {
  await fresh.drop()
}
