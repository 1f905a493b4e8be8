import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Files smsgw keeps in the data dir; their presence marks a directory as ours to tighten. */
const OURS = ['admin-token', 'pglite']

/**
 * Creates the data dir (SMSGW_DATA_DIR) readable by this user only (0700): it holds the admin
 * token and the embedded database. A data dir an older smsgw created with the umask's mode is
 * tightened too, but only when it is ours (it holds smsgw's files and this user owns it), so a
 * shared directory named by mistake is never chmod-ed.
 */
export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = statSync(dir)
  const mine = typeof process.getuid !== 'function' || st.uid === process.getuid()
  if ((st.mode & 0o077) !== 0 && mine && OURS.some((f) => existsSync(join(dir, f)))) chmodSync(dir, 0o700)
}
