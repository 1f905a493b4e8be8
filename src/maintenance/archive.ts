// Day partitions past retention: detached, exported to gzip'd NDJSON (one row_to_json object per
// line) with a manifest (rows, sha256), the file re-read and checked against the table, then the
// table dropped and the day recorded in archived_days (ADR 0019). Each step can be re-run after a
// crash: a detached table is found by its name and exported again; the drop re-verifies the file.

import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import type { Db, Queryable } from '../db/db.ts'

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
export async function exportTable(db: Db, dir: string, p: DayPartition): Promise<Manifest> {
  const paths = archivePaths(dir, p)
  await mkdir(join(dir, p.day), { recursive: true })
  const tmp = `${paths.data}.${randomBytes(4).toString('hex')}.tmp`
  const hash = createHash('sha256')
  const gzip = createGzip()
  const out = createWriteStream(tmp)
  gzip.on('data', (chunk: Buffer) => hash.update(chunk))
  const written = pipeline(gzip, out)
  let rows = 0
  const columns = await db.transaction(async (tx) => {
    const { rows: cols } = await tx.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [p.table],
    )
    await tx.query(
      `DECLARE archive_rows NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM ${p.table} t`,
    )
    for (;;) {
      const { rows: batch } = await tx.query<{ j: string }>(`FETCH ${FETCH} FROM archive_rows`)
      if (batch.length === 0) break
      rows += batch.length
      const chunk = `${batch.map((r) => r.j).join('\n')}\n`
      if (!gzip.write(chunk)) await new Promise((r) => gzip.once('drain', r))
    }
    await tx.query('CLOSE archive_rows')
    return cols
  })
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
    await tx.query(
      `INSERT INTO archived_days (day, tables, rows, files) VALUES ($1, ARRAY[$2], $3, ARRAY[$4])
       ON CONFLICT (day) DO UPDATE SET tables = array_append(archived_days.tables, $2),
         rows = archived_days.rows + $3, files = array_append(archived_days.files, $4), archived_at = now()`,
      [p.day, p.parent, manifest.rows, paths.data],
    )
  })
  return manifest
}

/** Removes a half-written export (a verify that failed leaves the table in place, detached). */
export async function discardExport(dir: string, p: DayPartition): Promise<void> {
  const paths = archivePaths(dir, p)
  await rm(paths.data, { force: true })
  await rm(paths.manifest, { force: true })
}
