// `npm run chaos [-- --long] [-- --only <scenario>[,<scenario>…]]`: fault injection under load on a
// real multi-process stack (own PostgreSQL and NATS), each scenario followed by reconciliation.
// Prints a table, writes chaos/results/chaos-<time>.json, exits non-zero if any scenario fails.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { installSignalHandlers, runCleanups, startWatchdog } from '../bench/cleanup.ts'
import { startInfra } from './infra.ts'
import { markShuttingDown } from './processes.ts'
import { runScenario } from './run-scenario.ts'
import { PROFILES, SCENARIOS } from './scenarios.ts'
import { formatTable, runVerdict, type ScenarioResult, verdictOf } from './verdict.ts'

const REPO = join(import.meta.dirname, '..')

const USAGE = `usage: npm run chaos [-- options]
  --long              the issue's full form: 30 s outages, more messages, four kills each
  --only <names>      run only these scenarios (comma-separated)
  --list              list the scenarios and exit
scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`

const log = (line: string) => process.stderr.write(`${line}\n`)

async function main(argv: string[]): Promise<number> {
  let values: { long?: boolean; only?: string; list?: boolean; help?: boolean }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        long: { type: 'boolean' },
        only: { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    log(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(16)} ${s.description}`)
    return 0
  }
  const wanted = values.only?.split(',').map((n) => n.trim()) ?? SCENARIOS.map((s) => s.name)
  const unknown = wanted.filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length > 0) {
    log(`unknown scenario: ${unknown.join(', ')}\n\n${USAGE}`)
    return 2
  }
  const profile = PROFILES[values.long ? 'long' : 'short']
  const scenarios = SCENARIOS.filter((s) => wanted.includes(s.name))
  // Nothing here may hang a CI run: the whole run has a deadline.
  const stopWatchdog = startWatchdog(
    scenarios.length * (profile.durationS + profile.settleTimeoutS + 120) * 1000,
    'chaos',
  )
  const started = Date.now()
  log(`chaos (${profile.name}): ${scenarios.map((s) => s.name).join(', ')}`)
  const infra = await startInfra(log)
  const results: ScenarioResult[] = []
  for (const s of scenarios) {
    const r = await runScenario(s, infra, profile, log)
    const v = verdictOf(r)
    log(`  ${s.name}: ${v.ok ? 'PASS' : `FAIL — ${v.failures.join('; ')}`}`)
    results.push(r)
  }
  stopWatchdog()
  const verdict = runVerdict(results)
  const table = formatTable(results)
  console.log(`\n${table}\n`)
  console.log(
    'recovery s: from the kill (or the end of a lasting fault) until delivered msg/s is back to ≥ 80 % of ' +
      'the 5 s before the fault in two consecutive 0.5 s buckets; n/r = not back before the load ended. ' +
      'settle s: from the end of load until every accepted message was final (or pending at a silent carrier).',
  )
  const dir = join(REPO, 'chaos/results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `chaos-${profile.name}-${new Date(started).toISOString().replaceAll(':', '-')}.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        profile,
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
        ok: verdict.ok,
        failures: verdict.failures,
        table,
        results: results.map((r) => ({ ...r, verdict: verdictOf(r) })),
      },
      null,
      2,
    ),
  )
  console.log(`results: ${file} (${Math.round((Date.now() - started) / 1000)} s)`)
  if (!verdict.ok) {
    console.log(`\nFAILED:\n${verdict.failures.map((f) => `  - ${f}`).join('\n')}`)
    return 1
  }
  console.log('all scenarios passed')
  return 0
}

// Before bench's handlers, so supervisors know the exits that follow are ours.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, markShuttingDown)
installSignalHandlers()
let code = 1
try {
  code = await main(process.argv.slice(2))
} catch (err) {
  log(`chaos: ${(err as Error).stack ?? err}`)
  code = 1
} finally {
  markShuttingDown()
  await runCleanups()
}
process.exit(code)
