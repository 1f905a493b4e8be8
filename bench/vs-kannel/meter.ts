// What one side of `vs-kannel` costs, read from outside: CPU seconds per process from /proc
// (grouped: each named process, PostgreSQL's backends of the run's database, PostgreSQL's shared
// background processes, nats-server), WAL bytes (pg_current_wal_lsn) and row writes per table
// (pg_stat_user_tables, partitions folded into their table).
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type pg from 'pg'
import { onCleanup } from '../cleanup.ts'
import { processCpuSeconds } from '../proc-cpu.ts'

const TICKS_PER_SECOND = 100

/** PostgreSQL processes not tied to one database: their CPU is the server's, whoever caused it. */
const PG_SHARED = new Set([
  'walwriter',
  'checkpointer',
  'background writer',
  'autovacuum launcher',
  'logical replication launcher',
])

export const PG_BACKENDS = 'postgres backends'
export const PG_SHARED_GROUP = 'postgres wal/checkpoint/bgwriter'
export const NATS = 'nats-server'

function startTimeS(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // starttime is field 22, fields[0] is field 3.
    return Number(fields[19]) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

function uptimeS(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
}

function pidsNamed(name: string): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) out.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/**
 * The nats-server processes listening on the URL's port (by their command line's -p/--port; 4222
 * when it names none): another server on the box (a test suite's) is not the bench's.
 */
function natsServerPids(url: string): number[] {
  const port = new URL(url).port || '4222'
  return pidsNamed('nats-server').filter((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      const i = args.findIndex((a) => a === '-p' || a === '--port')
      return (i >= 0 ? args[i + 1] : '4222') === port
    } catch {
      return false
    }
  })
}

/**
 * CPU of groups of processes over a window. Processes are found again at every sample (PostgreSQL
 * backends come and go); one that started inside the window counts from zero, one that ended
 * between samples keeps what it had at its last sample.
 */
export class CpuMeter {
  private readonly base = new Map<number, number>()
  private readonly last = new Map<number, number>()
  private readonly group = new Map<number, string>()
  private startUptime = 0
  private timer: NodeJS.Timeout | undefined
  private sampling: Promise<void> = Promise.resolve()

  constructor(
    private readonly fixed: Record<string, number>,
    /** Admin connection (another database) to map PostgreSQL pids to their database. */
    private readonly admin: pg.Client | undefined,
    private readonly database: string | undefined,
    /** Count the nats-server serving this URL too (smsgw's bus; Kannel has none); false: none. */
    private readonly nats: string | false,
  ) {}

  private async discover(): Promise<Map<number, string>> {
    const found = new Map<number, string>()
    for (const [name, pid] of Object.entries(this.fixed)) found.set(pid, name)
    if (this.nats) for (const pid of natsServerPids(this.nats)) found.set(pid, NATS)
    if (this.admin) {
      const { rows } = await this.admin.query<{ pid: number; datname: string | null; backend_type: string }>(
        'SELECT pid, datname, backend_type FROM pg_stat_activity',
      )
      for (const r of rows) {
        if (r.datname !== null && r.datname === this.database) found.set(r.pid, PG_BACKENDS)
        else if (PG_SHARED.has(r.backend_type)) found.set(r.pid, PG_SHARED_GROUP)
      }
    }
    return found
  }

  private async sample(first: boolean): Promise<void> {
    for (const [pid, name] of await this.discover()) {
      const cpu = processCpuSeconds(pid)
      if (cpu === undefined) continue
      if (!this.base.has(pid)) {
        const started = startTimeS(pid) ?? 0
        this.base.set(pid, first || started < this.startUptime ? cpu : 0)
        this.group.set(pid, name)
      }
      this.last.set(pid, cpu)
    }
  }

  async start(sampleMs = 1000): Promise<void> {
    this.startUptime = uptimeS()
    await this.sample(true)
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample(false)).catch(() => {})
    }, sampleMs)
  }

  /** CPU seconds per group since start(). */
  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer)
    await this.sampling
    await this.sample(false)
    const out: Record<string, number> = {}
    for (const [pid, name] of this.group) {
      out[name] = (out[name] ?? 0) + ((this.last.get(pid) ?? 0) - (this.base.get(pid) ?? 0))
    }
    return out
  }
}

export async function walLsn(admin: pg.Client): Promise<string> {
  const { rows } = await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
  return rows[0]!.lsn
}

export async function walBytesSince(admin: pg.Client, lsn: string): Promise<number> {
  const { rows } = await admin.query<{ b: string }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS b',
    [lsn],
  )
  return Number(rows[0]!.b)
}

export interface RowWrites {
  inserts: number
  updates: number
  hotUpdates: number
  deletes: number
}

/** Row writes so far per table of the connected database (partitions under their parent). */
export async function rowWrites(db: pg.Client): Promise<Record<string, RowWrites>> {
  const { rows } = await db.query<{ t: string; i: string; u: string; h: string; d: string }>(
    `SELECT coalesce(p.relname, c.relname) AS t, sum(s.n_tup_ins)::text AS i, sum(s.n_tup_upd)::text AS u,
            sum(s.n_tup_hot_upd)::text AS h, sum(s.n_tup_del)::text AS d
       FROM pg_stat_user_tables s
       JOIN pg_class c ON c.oid = s.relid
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
       LEFT JOIN pg_class p ON p.oid = i.inhparent
      GROUP BY 1`,
  )
  return Object.fromEntries(
    rows.map((r) => [r.t, { inserts: +r.i, updates: +r.u, hotUpdates: +r.h, deletes: +r.d }]),
  )
}

/** after − before, tables with no writes left out. */
export function rowWritesDelta(
  before: Record<string, RowWrites>,
  after: Record<string, RowWrites>,
): Record<string, RowWrites> {
  const out: Record<string, RowWrites> = {}
  for (const [t, a] of Object.entries(after)) {
    const b = before[t] ?? { inserts: 0, updates: 0, hotUpdates: 0, deletes: 0 }
    const d = {
      inserts: a.inserts - b.inserts,
      updates: a.updates - b.updates,
      hotUpdates: a.hotUpdates - b.hotUpdates,
      deletes: a.deletes - b.deletes,
    }
    if (d.inserts || d.updates || d.deletes) out[t] = d
  }
  return out
}

export interface WalOfDatabase {
  bytes: number
  records: number
  /** Bytes by relation (tables, indexes, partitions), largest first. */
  byRelation: { relation: string; bytes: number }[]
}

function pgWaldump(): string | undefined {
  try {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) {
      const p = `/usr/lib/postgresql/${v}/bin/pg_waldump`
      if (existsSync(p)) return p
    }
  } catch {
    // not a Debian layout
  }
  return undefined
}

const lsnValue = (lsn: string) => {
  const [hi, lo] = lsn.split('/')
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

export interface WalFollower {
  /** Waits until the records up to `toLsn` are read, stops pg_waldump and sums them up. */
  finish(toLsn: string): Promise<WalOfDatabase | undefined>
}

/**
 * WAL written for one database from `fromLsn` on, read by `pg_waldump --follow` on the server's
 * own pg_wal while the run goes (a checkpoint may recycle the segments before the run ends, so
 * they are read as they are written; a local server only): the records that touch the database's
 * relations, plus the records of the same transactions that touch none (commits). Other
 * databases' writes — other work on a shared machine — are left out, which pg_current_wal_lsn()
 * alone cannot do. Undefined when pg_waldump or the WAL directory is not reachable.
 */
export async function followWal(
  admin: pg.Client,
  db: pg.Client,
  database: string,
  fromLsn: string,
): Promise<WalFollower | undefined> {
  const tool = pgWaldump()
  if (!tool) return undefined
  const { rows } = await admin.query<{ oid: string; dir: string; seg: string }>(
    `SELECT (SELECT oid::text FROM pg_database WHERE datname = $1) AS oid, current_setting('data_directory') AS dir,
            pg_size_bytes(current_setting('wal_segment_size'))::text AS seg`,
    [database],
  )
  const oid = rows[0]?.oid
  const walDir = `${rows[0]?.dir}/pg_wal`
  if (!oid || !existsSync(walDir)) return undefined
  const relRe = new RegExp(`rel \\d+/${oid}/(\\d+)`, 'g')
  const ours = new Set<string>()
  const loose = new Map<string, number>()
  const byNode = new Map<string, number>()
  let bytes = 0
  let records = 0
  let lastEnd = 0n
  let stderr = ''
  // pg_waldump cannot start at the end of the WAL (no record there yet): it starts at the
  // beginning of the current segment and the records before fromLsn are skipped.
  const from = lsnValue(fromLsn)
  const segmentSize = BigInt(rows[0]?.seg ?? 16 * 2 ** 20)
  const segment = (from / segmentSize) * segmentSize
  const start = `${(segment >> 32n).toString(16).toUpperCase()}/${(segment & 0xffffffffn).toString(16).toUpperCase()}`
  const child = spawn(tool, ['--follow', '-p', walDir, '-s', start], { stdio: ['ignore', 'pipe', 'pipe'] })
  const drop = onCleanup(() => {
    child.kill('SIGKILL')
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let limit: bigint | undefined
  let reached: (() => void) | undefined
  const lines = createInterface({ input: child.stdout })
  lines.on('line', (line) => {
    const m = /len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line)
    if (!m) return
    const lsn = lsnValue(m[3]!)
    if (lsn < from) return
    if (limit !== undefined && lsn >= limit) {
      reached?.()
      return
    }
    const len = Number(m[1])
    // Where the record ends (records are 8-byte aligned; a page header may follow).
    lastEnd = lsn + BigInt(len)
    if (limit !== undefined && lastEnd + 64n >= limit) reached?.()
    const tx = m[2]!
    const nodes = [...line.matchAll(relRe)].map((r) => r[1]!)
    if (nodes.length > 0) {
      bytes += len
      records++
      if (tx !== '0') ours.add(tx)
      byNode.set(nodes[0]!, (byNode.get(nodes[0]!) ?? 0) + len)
    } else if (tx !== '0') loose.set(tx, (loose.get(tx) ?? 0) + len)
  })
  return {
    async finish(toLsn) {
      limit = lsnValue(toLsn)
      let complete = lastEnd + 64n >= limit
      if (!complete) {
        complete = await Promise.race([
          new Promise<boolean>((resolve) => {
            reached = () => resolve(true)
          }),
          exited.then(() => false),
          // On a busy server pg_waldump reads every database's WAL, and may lag well behind.
          new Promise<boolean>((r) => setTimeout(() => r(false), 180_000)),
        ])
      }
      child.kill('SIGTERM')
      drop()
      if (!complete || records === 0) {
        const why = stderr.trim() ? stderr.trim().split('\n').at(-1) : 'did not reach the end of the run'
        console.error(`  pg_waldump: ${why}; WAL per message falls back to the whole server's`)
        return undefined
      }
      let commits = 0
      for (const [tx, len] of loose) if (ours.has(tx)) commits += len
      const { rows: rels } = await db.query<{ node: string; name: string }>(
        'SELECT relfilenode::text AS node, relname AS name FROM pg_class WHERE relfilenode <> 0',
      )
      const name = new Map(rels.map((r) => [r.node, r.name]))
      const byRelation = [...byNode]
        .map(([node, b]) => ({ relation: name.get(node) ?? `relfilenode ${node}`, bytes: b }))
        .sort((a, b) => b.bytes - a.bytes)
      byRelation.push({ relation: '(commit and other records of the same transactions)', bytes: commits })
      return { bytes: bytes + commits, records, byRelation }
    },
  }
}
