// The whole pipeline for end-to-end benchmarks: `smsgw start` (api + dispatcher + worker with the
// embedded SMPP/HTTP simulator) on a fresh PostgreSQL database and its own NATS JetStream stream,
// all removed again when the run ends. Used by `e2e` and `sim`. With `split`, one process per role
// (and a `smsgw webhooks` process when webhooks are on).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { type CarrierConfig, defaultSimCarriers } from '../src/carriers/config.ts'
import { newWebhookSecret } from '../src/carriers/webhook-auth.ts'
import { recreateDatabase } from './bench-db.ts'
import { onCleanup } from './cleanup.ts'
import { freePort } from './free-port.ts'
import { type ServerProcess, startServer } from './server-process.ts'

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'

export interface StackSpec {
  /** Maintenance URL of PostgreSQL, allowed to create databases. */
  pgUrl: string
  natsUrl: string
  /** Database dropped and recreated for this run. */
  database: string
  /** Receipt delay of the embedded simulated carriers. */
  receiptDelayMs: number
  repoRoot: string
  /**
   * Each role in its own process (api, dispatcher, worker and a `smsgw carrier-sim`), as in
   * production, instead of one `smsgw start`: the roles then use both cores.
   */
  split?: boolean
  /**
   * Webhooks on (`e2e --webhooks`): `http://127.0.0.1` receivers allowed
   * (`SMSGW_WEBHOOK_ALLOW_INSECURE`) and, with `split`, a `smsgw webhooks` process as well.
   */
  webhooks?: boolean
  /**
   * Carriers of the run (`SMSGW_CARRIERS`) instead of the embedded simulator: `vs-kannel` points
   * smsgw at the simulator Kannel is measured with. No `carrier-sim` process is started then.
   */
  carriers?: CarrierConfig[]
  /** Extra environment for every smsgw process. */
  env?: Record<string, string>
}

export interface Stack {
  url: string
  adminToken: string
  /** The run's own database, for reading results. */
  dbUrl: string
  stream: string
  /** The process serving the api. */
  server: ServerProcess
  /** Every process of the stack (the api's included), for CPU accounting. */
  processes: ServerProcess[]
}

export async function startStack(spec: StackSpec): Promise<Stack> {
  const dbUrl = await recreateDatabase(spec.pgUrl, spec.database)
  const stream = `BENCH_${randomBytes(4).toString('hex')}`
  onCleanup(() => deleteStream(spec.natsUrl, stream))
  const port = await freePort()
  const adminToken = randomBytes(24).toString('hex')
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-e2e-'))
  onCleanup(() => rmSync(dataDir, { recursive: true, force: true }))
  const url = `http://127.0.0.1:${port}`
  const env = {
    DATABASE_URL: dbUrl,
    NATS_URL: spec.natsUrl,
    SMSGW_NATS_STREAM: stream,
    SMSGW_NATS_PREFIX: stream.toLowerCase(),
    HOST: '127.0.0.1',
    SMSGW_ADMIN_TOKEN: adminToken,
    SMSGW_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    // One sealing key for endpoint secrets, the same in the api (seals) and webhooks (unseals):
    // split roles on NATS must share it (the api alone refuses to start without it).
    SMSGW_WEBHOOK_SECRET_KEY: randomBytes(32).toString('base64'),
    ...(spec.webhooks ? { SMSGW_WEBHOOK_ALLOW_INSECURE: 'true' } : {}),
    ...spec.env,
  }
  const common = { cwd: spec.repoRoot, readyTimeoutMs: 60_000 }
  const carrierFile = (carriers: CarrierConfig[]) => {
    const file = join(dataDir, 'carriers.json')
    writeFileSync(file, JSON.stringify({ carriers }))
    return file
  }
  if (!spec.split) {
    const carrierEnv: Record<string, string> = spec.carriers
      ? { SMSGW_CARRIERS: carrierFile(spec.carriers) }
      : { SMSGW_SIM_RECEIPT_DELAY_MS: String(spec.receiptDelayMs) }
    const server = await startServer({
      ...common,
      name: 'smsgw',
      args: ['bin/smsgw.js', 'start'],
      env: { ...env, PORT: String(port), ...carrierEnv },
      url,
    })
    return { url, adminToken, dbUrl, stream, server, processes: [server] }
  }
  const base = { url, adminToken, dbUrl, stream }
  if (spec.carriers) return startRoles(common, env, port, carrierFile(spec.carriers), base, spec.webhooks)
  const [smppPort, httpPort] = [await freePort(), await freePort()]
  const webhookSecret = newWebhookSecret()
  const sim = await startServer({
    ...common,
    name: 'carrier-sim',
    args: [
      'bin/smsgw.js',
      'carrier-sim',
      ...['--smpp-port', String(smppPort), '--http-port', String(httpPort)],
      ...['--receipt-delay-ms', String(spec.receiptDelayMs)],
      ...['--dlr-url', `${url}/v1/providers/sim-http/dlr`],
      ...['--webhook-secret', webhookSecret],
    ],
    env: {},
    url: `http://127.0.0.1:${httpPort}`,
    readyPath: '/health',
  })
  const carriers = carrierFile(defaultSimCarriers({ smppPort, httpPort, webhookSecret }))
  const stack = await startRoles(common, env, port, carriers, base, spec.webhooks)
  return { ...stack, processes: [...stack.processes, sim] }
}

/** api, dispatcher, worker (and webhooks) as separate processes on one carrier file. */
async function startRoles(
  common: { cwd: string; readyTimeoutMs: number },
  env: Record<string, string>,
  port: number,
  carriers: string,
  base: Omit<Stack, 'server' | 'processes'>,
  webhooksOn: boolean | undefined,
): Promise<Stack> {
  const role = async (name: 'api' | 'dispatcher' | 'worker' | 'webhooks') => {
    const rolePort = name === 'api' ? port : await freePort()
    return startServer({
      ...common,
      name,
      args: ['bin/smsgw.js', name],
      env: { ...env, PORT: String(rolePort), SMSGW_CARRIERS: carriers },
      url: `http://127.0.0.1:${rolePort}`,
    })
  }
  // Workers first, so the lanes' durables exist before the dispatcher sizes its window.
  const worker = await role('worker')
  const dispatcher = await role('dispatcher')
  // Before the api, so its durables exist before the first message is accepted.
  const webhooks = webhooksOn ? [await role('webhooks')] : []
  const server = await role('api')
  return { ...base, server, processes: [server, dispatcher, worker, ...webhooks] }
}

async function deleteStream(servers: string, name: string): Promise<void> {
  const nc = await connect({ servers })
  try {
    await (await jetstreamManager(nc)).streams.delete(name).catch(() => false)
  } finally {
    await nc.close()
  }
}
