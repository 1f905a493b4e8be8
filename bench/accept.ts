// `npm run bench -- accept`: how many messages per second the accept path (POST /v1/messages)
// takes durably, against a bare Fastify ceiling, with realistic (Zipf) and single-tenant traffic.
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type AcceptOptions, acceptUsage, parseAcceptOptions } from './accept-options.ts'
import { AdminClient } from './admin-client.ts'
import { backendPids, checkpoint, type PgInfo, pgInfo } from './bench-db.ts'
import { startWatchdog } from './cleanup.ts'
import { attachGateway, type Gateway, prepareDatabase, startGateway } from './gateway.ts'
import {
  distinctCustomers,
  type Generator,
  hotPicker,
  makeGenerator,
  observedTopShare,
  zipfPicker,
} from './generator.ts'
import { type LoadResult, runLoad } from './load.ts'
import { machineInfo } from './machine.ts'
import { makePayloadPool } from './payloads.ts'
import {
  type AcceptReport,
  formatReport,
  ratioPct,
  SHARED_MACHINE_NOTE,
  writeReport,
  type ZipfInfo,
} from './report.ts'
import { seedOptOuts } from './seed-opt-outs.ts'
import { startScript } from './server-process.ts'
import { setupCustomers } from './setup-customers.ts'
import { makeZipf, type Zipf } from './zipf.ts'

export const usage = acceptUsage

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const PAYLOAD_POOL_SIZE = 4096

/** Upper bound for creating and funding the tenants: generous, but finite. */
const setupTimeoutMs = (customers: number) => Math.max(120_000, customers * 100)

function budgetMs(o: AcceptOptions): number {
  const perScenario = (o.warmupS + o.durationS + 90) * 1000
  const gateway = o.scenarios.some((s) => s !== 'bare') ? 120_000 + setupTimeoutMs(o.customers) : 0
  return 60_000 + gateway + o.scenarios.length * perScenario
}

export async function run(argv: string[]): Promise<number> {
  const options = parseAcceptOptions(argv)
  if (!options) {
    console.log(acceptUsage)
    return 0
  }
  startWatchdog(budgetMs(options), 'accept benchmark')
  const startedAt = new Date()
  const machine = await machineInfo(repoRoot)
  if (machine.busyPctAtStart > 20) {
    console.error(
      `WARNING: ${machine.busyPctAtStart} % of a core busy before the start, the machine is not idle`,
    )
  }
  const payloads = makePayloadPool(PAYLOAD_POOL_SIZE)
  const zipf = makeZipf(options.customers, options.zipfS)
  const wantsGateway = options.scenarios.some((s) => s !== 'bare')
  const results: LoadResult[] = []

  // Database first: a wrong PostgreSQL setup should fail before minutes of load, not after.
  let db: { dbUrl: string; pg: PgInfo } | null = null
  if (wantsGateway && options.target === null) {
    console.error('database')
    db = await prepareDatabase(options)
  } else if (!wantsGateway) {
    // Bare only: PostgreSQL is not involved, but its version and durability setting still
    // belong in the machine description when it is reachable.
    machine.pg = await pgInfo(options.pgUrl).catch(() => null)
  }

  // The ceiling runs before the gateway exists, so nothing of it idles in the background.
  if (options.scenarios.includes('bare')) {
    console.error('scenario bare')
    results.push(await runBare(options, payloads, zipf))
  }

  let setup: AcceptReport['setup'] = null
  let zipfInfo: ZipfInfo | null = null
  let gateway: Gateway | null = null
  if (wantsGateway) {
    console.error('gateway')
    gateway = db ? await startGateway(options, repoRoot, db) : await attachGateway(options)
    machine.pg = gateway.pg ?? machine.pg
    const dbUrl = gateway.dbUrl
    try {
      const admin = new AdminClient(gateway.url, gateway.adminToken)
      await admin.putRates()
      // hot needs one tenant; only zipf needs the whole population.
      const count = options.scenarios.includes('zipf') ? options.customers : 1
      console.error(`creating ${count} customers (${options.setupConcurrency} in flight)`)
      const created = await setupCustomers(admin, count, options.setupConcurrency, setupTimeoutMs(count))
      setup = { customers: count, seconds: created.seconds, perSecond: count / created.seconds }
      const keys = created.customers.map((c) => c.apiKey)
      const first = created.customers[0]
      if (options.optOuts > 0 && gateway.dbUrl && first) {
        const s = await seedOptOuts(gateway.dbUrl, first.id, options.optOuts)
        console.error(`seeded ${options.optOuts} opt-outs for the first tenant (${s.toFixed(1)} s)`)
      }

      for (const name of options.scenarios.filter((s) => s !== 'bare')) {
        console.error(`scenario ${name}`)
        const generator = makeGenerator(keys, name === 'zipf' ? zipfPicker(zipf) : hotPicker(), payloads)
        await preflight(gateway.url, generator)
        // Start each scenario from clean shared buffers rather than inheriting the last one's writes.
        if (gateway.dbUrl) await checkpoint(gateway.dbUrl)
        results.push(
          await runLoad({
            name,
            url: gateway.url,
            connections: options.connections,
            durationS: options.durationS,
            warmupS: options.warmupS,
            generator,
            serverPid: gateway.pid,
            backendPids: dbUrl ? () => backendPids(dbUrl) : undefined,
            signal: gateway.exitSignal,
          }),
        )
        if (name === 'zipf') zipfInfo = describeZipf(options, zipf, generator)
      }
    } catch (err) {
      if (gateway.exitSignal?.aborted) {
        throw new Error(
          `${(err as Error).message}\n--- smsgw output (last lines) ---\n${gateway.outputTail()}\n---`,
        )
      }
      throw err
    } finally {
      await gateway.stop()
    }
  }

  const find = (name: string) => results.find((r) => r.name === name)
  const report: AcceptReport = {
    benchmark: 'accept',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: publicOptions(options),
    target: { mode: gateway?.mode ?? 'none', url: gateway?.url ?? null },
    machine,
    notes: [SHARED_MACHINE_NOTE],
    setup,
    zipf: zipfInfo,
    scenarios: results,
    comparisons: {
      zipfVsBarePct: ratioPct(find('zipf'), find('bare')),
      hotVsBarePct: ratioPct(find('hot'), find('bare')),
      hotVsZipfPct: ratioPct(find('hot'), find('zipf')),
    },
  }
  const path =
    options.out ?? `${repoRoot}bench/results/accept-${startedAt.toISOString().replaceAll(':', '-')}.json`
  writeReport(path, report)
  const shown = relative(process.cwd(), path)
  console.log(`\n${formatReport(report, shown.startsWith('..') ? path : shown)}`)
  return 0
}

async function runBare(options: AcceptOptions, payloads: Buffer[], zipf: Zipf): Promise<LoadResult> {
  const server = await startScript({
    name: 'bare-fastify',
    script: 'bench/bare-fastify.ts',
    cwd: repoRoot,
    readyTimeoutMs: 30_000,
  })
  const url = server.url
  try {
    // Same generator work as zipf (per-request tenant pick, varying headers and bodies) so the
    // generator costs the same CPU; the keys are never checked.
    const keys = Array.from(
      { length: options.customers },
      (_, i) => `sk_bench_${String(i).padStart(32, '0')}`,
    )
    return await runLoad({
      name: 'bare',
      url,
      connections: options.connections,
      durationS: options.durationS,
      warmupS: options.warmupS,
      generator: makeGenerator(keys, zipfPicker(zipf), payloads),
      serverPid: server.pid,
      signal: server.exitSignal,
    })
  } finally {
    await server.stop()
  }
}

/** One request by hand first: if the contract is off, say why instead of reporting 0 msg/s. */
async function preflight(url: string, generator: Generator): Promise<void> {
  const { headers, body } = generator.next()
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers,
    body: body.toString(),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  if (res.status < 200 || res.status > 299) {
    throw new Error(`preflight POST /v1/messages → ${res.status}: ${text.slice(0, 500)}\nrequest: ${body}`)
  }
}

function describeZipf(options: AcceptOptions, zipf: Zipf, generator: Generator): ZipfInfo {
  return {
    s: options.zipfS,
    customers: options.customers,
    expectedTop1Share: zipf.topShare(1),
    expectedTop10Share: zipf.topShare(10),
    observedTop1Share: observedTopShare(generator.hits, 1),
    observedTop10Share: observedTopShare(generator.hits, 10),
    distinctCustomersHit: distinctCustomers(generator.hits),
  }
}

/** The options as recorded in the JSON: no admin token, no database password. */
function publicOptions(options: AcceptOptions): AcceptReport['options'] {
  const { adminToken: _secret, ...rest } = options
  const pg = new URL(options.pgUrl)
  if (pg.password) pg.password = '***'
  return { ...rest, pgUrl: pg.toString() }
}
