#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ with tsc (relative `.ts` imports rewritten to `.js`) and
// copies what tsc does not (the SQL migrations). Incremental: a build with nothing changed is quick.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const stamp = join(root, 'dist', '.built')

/** Newest modification time of any file below dir. */
function newest(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

// --if-stale (npm start, npm test): nothing to do when no file of src/ changed since the last build.
if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const inputs = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.build.json')).mtimeMs)
  if (statSync(stamp).mtimeMs >= inputs) process.exit(0)
}
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const res = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (res.status !== 0) process.exit(res.status ?? 1)

const from = join(root, 'src', 'db', 'migrations')
const to = join(root, 'dist', 'db', 'migrations')
rmSync(to, { recursive: true, force: true })
mkdirSync(to, { recursive: true })
for (const f of readdirSync(from)) if (f.endsWith('.sql')) cpSync(join(from, f), join(to, f))
// The dashboard's browser files (served as they are, not compiled).
const page = join(root, 'dist', 'dashboard', 'public')
rmSync(page, { recursive: true, force: true })
cpSync(join(root, 'src', 'dashboard', 'public'), page, { recursive: true })
writeFileSync(stamp, `${new Date().toISOString()}\n`)
