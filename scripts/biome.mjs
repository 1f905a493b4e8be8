#!/usr/bin/env node
// Runs the Biome binary. The registry this project installs from serves Biome's Linux x64 build
// only (the other platforms' packages are missing there, which breaks `npm ci` for the
// @biomejs/biome wrapper), so the binary package is an optional dependency and called directly.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
let bin
try {
  bin = join(dirname(require.resolve('@biomejs/cli-linux-x64/package.json')), 'biome')
} catch {
  bin = undefined
}
if (!bin || !existsSync(bin)) {
  console.error('biome: no binary for this platform (only @biomejs/cli-linux-x64 is installable here)')
  process.exit(2)
}
const res = spawnSync(bin, process.argv.slice(2), { stdio: 'inherit' })
process.exit(res.status ?? 1)
