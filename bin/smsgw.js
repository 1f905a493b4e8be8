#!/usr/bin/env -S node --max-semi-space-size=64
// Entry point of the `smsgw` command: runs the compiled CLI in dist/ (`npm run build`; `npm ci`,
// `npm start` and `npm test` build it). The shebang's V8 flags: src/cli/node-flags.ts.
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  console.error('smsgw: dist/ is missing: run `npm run build` first (npm ci and npm start do it)')
  process.exit(2)
}
const { main: run } = await import(main.href)
await run(process.argv.slice(2))
