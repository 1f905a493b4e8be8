// One scenario end to end: fresh database, simulators and gateway processes; load with the fault
// injected part-way; stop load, wait until quiescent, then reconcile and measure.
import pg from 'pg'
import { AdminClient, type Customer } from '../bench/admin-client.ts'
import { runBounded } from '../bench/bounded.ts'
import { zipfPicker } from '../bench/generator.ts'
import { makeZipf } from '../bench/zipf.ts'
import { type CarrierConfig, simSmppCarrier } from '../src/carriers/config.ts'
import { diagnose } from './diagnose.ts'
import { type Gateway, startGateway } from './gateway.ts'
import type { Infra } from './infra.ts'
import { type LoadRun, startLoad } from './load.ts'
import { sleep } from './processes.ts'
import { runReconcile } from './reconcile.ts'
import { recoveryTime } from './recovery.ts'
import type { FaultMark, Profile, Scenario } from './scenarios.ts'
import { waitSettled } from './settle.ts'
import { type SimHandle, startSim } from './sims.ts'
import { type FaultRecovery, type ScenarioResult, verdictOf } from './verdict.ts'
import { deliveredTimes, verify } from './verify.ts'
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts'
import { registerEndpoints, webhookFindings } from './webhooks.ts'

const SIM_BEHAVIOUR = { latencyMs: { min: 1, max: 5 }, receiptDelayMs: { min: 20, max: 150 } }

function carriersFor(primary: SimHandle, secondary: SimHandle): CarrierConfig[] {
  // Two thirds of the traffic to the primary; the secondary is the failover route.
  return [
    simSmppCarrier('sim-a', primary.smppPort, { weight: 200, window: 50 }),
    simSmppCarrier('sim-b', secondary.smppPort, { weight: 100, window: 50 }),
  ]
}

async function createCustomers(admin: AdminClient, n: number, scenario: string): Promise<Customer[]> {
  const customers: Customer[] = new Array(n)
  await runBounded(n, 4, async (i) => {
    const c = await admin.createCustomer(`chaos-${scenario}-${i + 1}`)
    await admin.addCredits(c.id, '100000.00')
    customers[i] = c
  })
  return customers
}

function emptyResult(s: Scenario): ScenarioResult {
  return {
    name: s.name,
    description: s.description,
    accepted: 0,
    delivered: 0,
    final: 0,
    pending: 0,
    lost: 0,
    duplicates: 0,
    moneyMismatches: 0,
    clientErrors: 0,
    crashes: [],
    recoveryS: null,
    recoveries: [],
    settleS: null,
    reconcile: { status: 'unavailable', detail: 'not run' },
    details: {},
  }
}

export async function runScenario(
  s: Scenario,
  infra: Infra,
  profile: Profile,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const result = emptyResult(s)
  const started = Date.now()
  let sims: SimHandle[] = []
  let gateway: Gateway | undefined
  let load: LoadRun | undefined
  let pool: pg.Pool | undefined
  let receiver: WebhookReceiver | undefined
  try {
    const databaseUrl = await infra.createDatabase(`chaos_${s.name.replaceAll('-', '_')}`)
    sims = await Promise.all([startSim('sim-a', SIM_BEHAVIOUR), startSim('sim-b', SIM_BEHAVIOUR)])
    const [primary, secondary] = sims as [SimHandle, SimHandle]
    gateway = await startGateway({
      name: s.name,
      databaseUrl,
      natsUrl: infra.nats.url,
      carriers: carriersFor(primary, secondary),
      shape: s.shape,
    })
    const gw = gateway
    const admin = new AdminClient(gw.apiUrls[0]!, gw.adminToken)
    await admin.putRates()
    const customers = await createCustomers(admin, profile.customers, s.name)
    if (s.webhooks) {
      receiver = await startWebhookReceiver()
      await registerEndpoints(gw.apiUrls[0]!, customers, receiver)
    }
    log(
      `  ${s.name}: ${s.shape.api} api + ${s.shape.dispatcher} dispatcher + ${s.shape.worker} worker` +
        `${s.shape.webhooks ? ` + ${s.shape.webhooks} webhooks` : ''} up in ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s; ${profile.ratePerSec} msg/s for ${profile.durationS} s`,
    )

    const zipf = makeZipf(customers.length, 1.1)
    const l = startLoad({
      apiUrls: gw.apiUrls,
      customers,
      pickCustomer: zipfPicker(zipf),
      ratePerSec: profile.ratePerSec,
      durationS: profile.durationS,
      keyPrefix: `${s.name}-${started}`,
    })
    load = l
    const marks: FaultMark[] = []
    await s.inject({
      profile,
      gateway: gw,
      infra,
      primary,
      secondary,
      at: (sec) => sleep(Math.max(0, l.startedAt + sec * 1000 - Date.now())),
      mark: (m) => marks.push(m),
      log,
      ...(receiver ? { receiver } : {}),
    })
    const loadEnd = l.startedAt + profile.durationS * 1000
    await l.done
    log(
      `    load done: ${l.sent.filter((m) => m.id).length}/${l.sent.length} accepted, ${l.retries()} retries`,
    )

    pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5000 })
    pool.on('error', () => {})
    result.settleS = await waitSettled({
      pool,
      timeoutMs: profile.settleTimeoutS * 1000,
      ...(s.silentCarrier ? { silentCarrier: s.silentCarrier } : {}),
      log,
    })
    // Settle time counts from the end of the sending period.
    if (result.settleS !== null) result.settleS = Math.max(0, (Date.now() - loadEnd) / 1000)

    const findings = await verify({
      pool,
      sent: l.sent,
      sims,
      ...(s.silentCarrier ? { silentCarrier: s.silentCarrier } : {}),
    })
    const { details, ...counts } = findings
    Object.assign(result, counts)
    if (receiver) {
      const w = await webhookFindings(pool, customers, receiver)
      result.webhooksMissing = w.missing
      result.webhookBadSignatures = w.badSignatures
      result.details = { ...result.details, webhooks: w }
      log(
        `    webhooks: ${w.chains} chains, ${w.unique} events received (${w.requests} requests), ${w.missing} missing`,
      )
      if (w.pending.length > 0) log(`    webhooks still pending: ${JSON.stringify(w.pending)}`)
    }

    result.crashes = gw
      .crashes()
      .map(
        (c) =>
          `${c.reason} at ${((c.at - l.startedAt) / 1000).toFixed(1)} s into the load` +
          (c.restartedReadyAt === null
            ? ', not restarted'
            : `, restarted${(c.restartAttempts ?? 1) > 1 ? ` at attempt ${c.restartAttempts}` : ''}`),
      )
    const delivered = await deliveredTimes(pool)
    // The throughput curve behind the recovery times: delivered per second since the load started.
    const perSecond: number[] = []
    for (const t of delivered) {
      const i = Math.floor((t - l.startedAt) / 1000)
      if (i >= 0) perSecond[i] = (perSecond[i] ?? 0) + 1
    }
    result.details = { ...result.details, deliveredPerSecond: Array.from(perSecond, (n) => n ?? 0) }
    result.recoveries = marks.map((m): FaultRecovery => {
      const r = recoveryTime({
        delivered,
        loadStart: l.startedAt,
        loadEnd,
        faultStart: m.start,
        faultEnd: m.end,
      })
      return {
        fault: m.fault,
        at: (m.start - l.startedAt) / 1000,
        recoveredAfterS: r.recoveredAfterS,
        lowestShare: Math.round(r.lowestShare * 100) / 100,
      }
    })
    const times = result.recoveries.map((r) => r.recoveredAfterS)
    result.recoveryS = times.length === 0 || times.includes(null) ? null : Math.max(...(times as number[]))

    result.reconcile = await runReconcile({
      databaseUrl,
      simUrls: sims.map((x) => x.controlUrl),
      settled: !s.silentCarrier,
    })
    result.details = {
      ...result.details,
      ...details,
      retries: l.retries(),
      sentRequests: l.sent.length,
      simCounters: await Promise.all(sims.map(async (x) => ({ name: x.name, ...(await x.counters()) }))),
    }
    if (!verdictOf(result).ok) {
      // Where the messages are, and what the processes said, is what to read when a scenario fails.
      const diagnosis = await diagnose(pool, infra.nats.url, gw.stream)
      result.details = { ...result.details, diagnosis, crashes: gw.crashes(), processes: gw.outputTails() }
      log(`    diagnosis: ${JSON.stringify(diagnosis)}`)
      for (const c of gw.crashes()) log(`    crash: ${c.reason}\n${c.output.slice(-1500)}`)
      log(gw.outputTails())
    }
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0] ?? String(err)
    result.details = { ...result.details, error: (err as Error).message, processes: gateway?.outputTails() }
    log(`  ${s.name}: ERROR ${(err as Error).message}`)
    if (gateway) log(gateway.outputTails())
  } finally {
    load?.stopSending()
    await pool?.end().catch(() => {})
    await gateway?.stop()
    await Promise.all(sims.map((x) => x.stop()))
    await receiver?.close()
  }
  result.details = { ...result.details, scenarioSeconds: (Date.now() - started) / 1000 }
  return result
}
