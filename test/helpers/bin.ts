// The compiled `smsgw` command, as an operator runs it. Tests that spawn it import BIN from here,
// which brings dist/ up to date first (a no-op when nothing in src/ changed since the last build).
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '../..')
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' })

export const BIN = join(ROOT, 'bin/smsgw.js')
