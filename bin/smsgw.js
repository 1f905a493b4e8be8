#!/usr/bin/env node
// Entry point of the `smsgw` command: registers the TypeScript loader, then runs the CLI.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
await main(process.argv.slice(2))
