#!/usr/bin/env node
// Runs node's test runner over the given *.test.ts files and every *.test.ts below the given folders
// (default: test/ and src/).
// Node 20 cannot glob .ts files itself, hence this small wrapper.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'))
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (name.endsWith('.test.ts')) files.push(p)
  }
}
for (const root of roots.length ? roots : ['test', 'src']) {
  if (statSync(root).isDirectory()) walk(root)
  else files.push(root)
}
files.sort()
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2'
const res = spawnSync(
  process.execPath,
  // A test that hangs (a timer left running after a failed assertion) fails after 10 minutes
  // instead of holding the run until CI's limit.
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=600000',
    ...flags,
    ...files,
  ],
  { stdio: 'inherit' },
)
process.exit(res.status ?? 1)
