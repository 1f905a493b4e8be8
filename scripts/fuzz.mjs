#!/usr/bin/env node
// npm run fuzz [-- --runs=N --seed=S]: the API fuzz test (test/integration/api-fuzz.test.ts) with
// more requests than `npm test` sends and, unless given, a new seed (printed, to replay a failure).
import { spawnSync } from 'node:child_process'

const arg = (name) =>
  process.argv
    .slice(2)
    .find((a) => a.startsWith(`--${name}=`))
    ?.split('=')[1]
const runs = arg('runs') ?? process.env.FUZZ_RUNS ?? '5000'
const seed = arg('seed') ?? process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31))
if (!/^\d+$/.test(runs) || !/^-?\d+$/.test(seed)) {
  console.error('usage: npm run fuzz -- [--runs=N] [--seed=S]')
  process.exit(2)
}
console.log(`fuzz: seed ${seed}, ${runs} runs (replay with: npm run fuzz -- --seed=${seed} --runs=${runs})`)
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/integration/api-fuzz.test.ts'],
  { stdio: 'inherit', env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed } },
)
process.exit(res.status ?? 1)
