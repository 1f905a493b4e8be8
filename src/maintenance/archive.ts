// Day partitions past retention: detached, exported to gzip'd NDJSON (one row_to_json object per
// line) with a manifest (rows, sha256), the file re-read and checked against the table, then the
// table dropped and the day recorded in archived_days (ADR 0019). Each step can be re-run after a
// crash: a detached table is found by its name and exported again; the drop re-verifies the file.
// `deliveries` and `carrier_refs` are not partitioned: a day's rows (by their message's
// created_at) are exported the same way, then deleted in one transaction that checks the count.

import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import type { Db, Queryable } from '../db/db.ts'
import { uuidFloor } from '../reporting/buckets.ts'

export const ARCHIVE_FORMAT = 'smsgw-archive-ndjson-gzip-v1'
/** Rows per fetch while exporting. */
const FETCH = 5000

export interface DayPartition {
  table: string
  /** The parent (messages, message_events, customer_events). */
  parent: string
  /** UTC day, YYYY-MM-DD. */
  day: string
  attached: boolean
}

export interface Manifest {
  format: string
  table: string
  day: string
  rows: number
  /** Of the .ndjson.gz file as written. */
  sha256: string
  columns: { name: string; type: string }[]
  exported_at: string
}

const NAME = /^(messages|message_events|customer_events)_p(\d{4})(\d{2})(\d{2})$/

/** Day tables of the partitioned parents older than the given day (YYYY-MM-DD), attached or left detached by a crash. */
export async function dayPartitionsBefore(
  db: Db,
  parents: string[],
  beforeDay: string,
): Promise<DayPartition[]> {
  const { rows } = await db.query<{ name: string; attached: boolean }>(
    `SELECT c.relname AS name, EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS attached
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname ~ '^(messages|message_events|customer_events)_p[0-9]{8}$'
      ORDER BY c.relname`,
  )
  return rows.flatMap((r) => {
    const m = NAME.exec(r.name)
    if (!m) return []
    const day = `${m[2]}-${m[3]}-${m[4]}`
    const parent = m[1] as string
    return parents.includes(parent) && day < beforeDay
      ? [{ table: r.name, parent, day, attached: r.attached }]
      : []
  })
}

export const archivePaths = (dir: string, p: { table: string; day: string }) => ({
  data: join(dir, p.day, `${p.table}.ndjson.gz`),
  manifest: join(dir, p.day, `${p.table}.manifest.json`),
})

/** Detaches the partition (a short lock on the parent); the export reads the detached table. */
export async function detach(q: Queryable, p: DayPartition): Promise<void> {
  if (p.attached) await q.exec(`ALTER TABLE ${p.parent} DETACH PARTITION ${p.table}`)
}

/** Writes the table's rows and its manifest; returns the manifest. */
export const exportTable = (db: Db, dir: string, p: DayPartition): Promise<Manifest> =>
  exportRows(db, dir, p, p.table, `SELECT row_to_json(t)::text AS j FROM ${p.table} t`, [])

/**
 * Writes the rows `select` returns (one column `j`, a row_to_json text) under the name
 * `p.table` with a manifest describing `columnsOf`'s columns; returns the manifest.
 */
const exportRows = (
  db: Db,
  dir: string,
  p: { table: string; day: string },
  columnsOf: string,
  select: string,
  params: unknown[],
): Promise<Manifest> => db.transaction((tx) => writeExport(tx, dir, p, columnsOf, select, params))

/** exportRows inside the caller's transaction (a cursor lives in one). */
async function writeExport(
  tx: Queryable,
  dir: string,
  p: { table: string; day: string },
  columnsOf: string,
  select: string,
  params: unknown[],
): Promise<Manifest> {
  const paths = archivePaths(dir, p)
  await mkdir(join(dir, p.day), { recursive: true })
  const tmp = `${paths.data}.${randomBytes(4).toString('hex')}.tmp`
  const hash = createHash('sha256')
  const gzip = createGzip()
  const out = createWriteStream(tmp)
  gzip.on('data', (chunk: Buffer) => hash.update(chunk))
  const written = pipeline(gzip, out)
  let rows = 0
  const { rows: columns } = await tx.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [columnsOf],
  )
  await tx.query(`DECLARE archive_rows NO SCROLL CURSOR FOR ${select}`, params)
  for (;;) {
    const { rows: batch } = await tx.query<{ j: string }>(`FETCH ${FETCH} FROM archive_rows`)
    if (batch.length === 0) break
    rows += batch.length
    const chunk = `${batch.map((r) => r.j).join('\n')}\n`
    if (!gzip.write(chunk)) await new Promise((r) => gzip.once('drain', r))
  }
  await tx.query('CLOSE archive_rows')
  gzip.end()
  await written
  const manifest: Manifest = {
    format: ARCHIVE_FORMAT,
    table: p.table,
    day: p.day,
    rows,
    sha256: hash.digest('hex'),
    columns,
    exported_at: new Date().toISOString(),
  }
  await rename(tmp, paths.data)
  await writeFile(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

/** Re-reads an archive file: its sha256 and its line count. */
export async function readBack(path: string): Promise<{ sha256: string; rows: number }> {
  const hash = createHash('sha256')
  const file = createReadStream(path)
  file.on('data', (c) => hash.update(c))
  let rows = 0
  for await (const line of createInterface({
    input: file.pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  }))
    if (line.length > 0) rows++
  return { sha256: hash.digest('hex'), rows }
}

export class ArchiveVerifyError extends Error {
  readonly code = 'archive_verify_failed'
}

/**
 * Checks the file against its manifest and the table, then drops the table and records the day.
 * Throws ArchiveVerifyError (nothing dropped) on any difference.
 */
export async function verifyAndDrop(db: Db, dir: string, p: DayPartition): Promise<Manifest> {
  const paths = archivePaths(dir, p)
  const manifest = JSON.parse(await readFile(paths.manifest, 'utf8')) as Manifest
  const file = await readBack(paths.data)
  if (file.sha256 !== manifest.sha256 || file.rows !== manifest.rows)
    throw new ArchiveVerifyError(
      `${paths.data}: ${file.rows} rows sha256 ${file.sha256}, manifest says ${manifest.rows} ${manifest.sha256}`,
    )
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${p.table}`)
    const n = Number(rows[0]?.n)
    if (n !== manifest.rows)
      throw new ArchiveVerifyError(`${p.table}: ${n} rows, the archive has ${manifest.rows}`)
    await tx.exec(`DROP TABLE ${p.table}`)
    await recordArchived(tx, p.day, p.parent, manifest.rows, paths.data)
  })
  return manifest
}

/** Removes a half-written export (a verify that failed leaves the table in place, detached). */
export async function discardExport(dir: string, p: { table: string; day: string }): Promise<void> {
  const paths = archivePaths(dir, p)
  await rm(paths.data, { force: true })
  await rm(paths.manifest, { force: true })
}

/** The non-partitioned tables whose rows of an archived day are archived and deleted with it. */
export const DAY_ROW_TABLES = ['deliveries', 'carrier_refs'] as const
export type DayRowTable = (typeof DAY_ROW_TABLES)[number]

/** A day's rows of a non-partitioned table: archived under `table` (`deliveries_p20261101`), then deleted. */
export interface DayRows {
  table: string
  parent: DayRowTable
  /** UTC day, YYYY-MM-DD. */
  day: string
}

export const dayRows = (parent: DayRowTable, day: string): DayRows => ({
  table: `${parent}_p${day.replaceAll('-', '')}`,
  parent,
  day,
})

const DAY_MS = 86_400_000
/** Ids are UUIDv7 of the message's created_at; the margin only widens the index range, the created_at bounds decide. */
const ID_MARGIN_MS = 3_600_000

/** Rows of `p.parent` whose message was created on `p.day`: a WHERE clause and its parameters. */
function dayRowsWhere(p: DayRows): { where: string; params: unknown[] } {
  const from = Date.parse(`${p.day}T00:00:00Z`)
  const to = from + DAY_MS
  return {
    where: `message_id >= $1::uuid AND message_id < $2::uuid AND message_created_at >= $3 AND message_created_at < $4`,
    params: [uuidFloor(from - ID_MARGIN_MS), uuidFloor(to + ID_MARGIN_MS), new Date(from), new Date(to)],
  }
}

/** How many rows `p` holds now. */
export async function countDayRows(q: Queryable, p: DayRows): Promise<number> {
  const { where, params } = dayRowsWhere(p)
  const { rows } = await q.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${p.parent} WHERE ${where}`,
    params,
  )
  return Number(rows[0]?.n)
}

/**
 * Archives the day's rows of `p.parent` and deletes them, in one transaction under `lock` (a
 * transaction-scoped advisory lock, tried): the rows are exported, the file re-read and checked
 * against the manifest, and the DELETE must remove exactly the manifest's rows, or everything
 * rolls back and the file is removed (ArchiveVerifyError). Returns null, doing nothing, when the
 * lock is taken, the day's messages are not archived yet, or archived_days already has this table
 * for the day (another process did it).
 */
export async function archiveDayRows(
  db: Db,
  dir: string,
  p: DayRows,
  lock: number,
): Promise<Manifest | null> {
  const { where, params } = dayRowsWhere(p)
  try {
    return await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ ok: boolean; due: boolean }>(
        `SELECT pg_try_advisory_xact_lock($1) AS ok,
                EXISTS (SELECT 1 FROM archived_days WHERE day = $2 AND 'messages' = ANY(tables)
                           AND NOT $3 = ANY(tables)) AS due`,
        [lock, p.day, p.parent],
      )
      if (!rows[0]?.ok || !rows[0].due) return null
      const manifest = await writeExport(
        tx,
        dir,
        p,
        p.parent,
        `SELECT row_to_json(t)::text AS j FROM ${p.parent} t WHERE ${where} ORDER BY message_id`,
        params,
      )
      const paths = archivePaths(dir, p)
      const file = await readBack(paths.data)
      if (file.sha256 !== manifest.sha256 || file.rows !== manifest.rows)
        throw new ArchiveVerifyError(
          `${paths.data}: ${file.rows} rows sha256 ${file.sha256}, manifest says ${manifest.rows} ${manifest.sha256}`,
        )
      const { rowCount } = await tx.query(`DELETE FROM ${p.parent} WHERE ${where}`, params)
      if (rowCount !== manifest.rows)
        throw new ArchiveVerifyError(
          `${p.parent} of ${p.day}: ${rowCount} rows to delete, the archive has ${manifest.rows}`,
        )
      await recordArchived(tx, p.day, p.parent, manifest.rows, paths.data)
      return manifest
    })
  } catch (err) {
    if (err instanceof ArchiveVerifyError) await discardExport(dir, p)
    throw err
  }
}

async function recordArchived(q: Queryable, day: string, table: string, rows: number, file: string) {
  await q.query(
    `INSERT INTO archived_days (day, tables, rows, files) VALUES ($1, ARRAY[$2], $3, ARRAY[$4])
     ON CONFLICT (day) DO UPDATE SET tables = array_append(archived_days.tables, $2),
       rows = archived_days.rows + $3, files = array_append(archived_days.files, $4), archived_at = now()`,
    [day, table, rows, file],
  )
}
