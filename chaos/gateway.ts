// One scenario's gateway: `smsgw api|dispatcher|worker` as separate processes against the run's
// private PostgreSQL and NATS, with a carrier file naming the scenario's simulators. Any process
// can be killed with SIGKILL and is then started again at once, as a supervisor would.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onCleanup } from '../bench/cleanup.ts'
import { type ServerProcess, type ServerSpec, startServer } from '../bench/server-process.ts'
import type { CarrierConfig } from '../src/carriers/config.ts'
import { uniquePort } from './ports.ts'
import { isShuttingDown, sleep } from './processes.ts'

const REPO = join(import.meta.dirname, '..')

export type Role = 'api' | 'dispatcher' | 'worker' | 'webhooks'

export interface Shape {
  api: number
  dispatcher: number
  worker: number
  /** `smsgw webhooks` processes (default 0). */
  webhooks?: number
}

export interface GatewaySpec {
  name: string
  databaseUrl: string
  natsUrl: string
  carriers: CarrierConfig[]
  shape: Shape
}

export interface Restart {
  role: Role
  index: number
  /** Epoch ms: when SIGKILL was sent, when the new process was started, when it answered ready. */
  killedAt: number
  restartedAt: number
  readyAt: number
}

/** A process that exited without the harness killing it; it is started again, as a supervisor would. */
export interface Crash {
  name: string
  at: number
  reason: string
  /** Its last output lines before it exited. */
  output: string
  /** Epoch ms when the restarted process was ready; null if it could not be started again. */
  restartedReadyAt: number | null
  restartAttempts?: number
}

export interface Gateway {
  readonly apiUrls: string[]
  readonly adminToken: string
  readonly stream: string
  /** kill -9 of one process, then starts it again on the same port; resolves once it is ready. */
  killAndRestart(role: Role, index: number): Promise<Restart>
  /** Processes that exited by themselves (each was restarted after a second). */
  crashes(): Crash[]
  /** Output tail of every process, for error reports. */
  outputTails(): string
  stop(): Promise<void>
}

interface Member {
  role: Role
  index: number
  spec: ServerSpec
  proc: ServerProcess
  /** The harness is killing or stopping it: its exit is expected. */
  expectExit: boolean
}

const RESTART_AFTER_MS = 1000
const RESTART_FOR_MS = 60_000

export async function startGateway(g: GatewaySpec): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-chaos-gw-'))
  const dropDir = onCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const carriersFile = join(dir, 'carriers.json')
  writeFileSync(carriersFile, JSON.stringify({ carriers: g.carriers }, null, 2))
  const suffix = randomBytes(4).toString('hex')
  const stream = `CHAOS_${suffix}`
  const adminToken = randomBytes(24).toString('hex')
  // Every api and webhooks process seals and opens endpoint secrets with the same key.
  const webhookKey = randomBytes(32).toString('base64')
  const members: Member[] = []
  const crashes: Crash[] = []
  let stopping = false

  // Like systemd's Restart=always: a process that exits by itself is recorded and started again.
  const supervise = (m: Member) => {
    const proc = m.proc
    proc.exitSignal.addEventListener(
      'abort',
      () => {
        if (m.expectExit || stopping || isShuttingDown() || m.proc !== proc) return
        const crash: Crash = {
          name: m.spec.name,
          at: Date.now(),
          reason: (proc.exitSignal.reason as Error)?.message ?? 'exited',
          output: proc.outputTail().trim().slice(-4000),
          restartedReadyAt: null,
        }
        crashes.push(crash)
        void (async () => {
          await proc.stop()
          // A process may refuse to start while what it needs is still down (PostgreSQL restarting):
          // keep trying, as a supervisor would, for a minute.
          const giveUpAt = Date.now() + RESTART_FOR_MS
          for (let attempt = 1; ; attempt++) {
            await sleep(RESTART_AFTER_MS)
            if (stopping || isShuttingDown()) return
            try {
              m.proc = await startServer({ ...m.spec, readyTimeoutMs: 20_000 })
              crash.restartedReadyAt = Date.now()
              crash.restartAttempts = attempt
              supervise(m)
              return
            } catch (err) {
              if (Date.now() > giveUpAt) throw err
            }
          }
        })().catch((err: unknown) => {
          crash.reason += `; could not start again: ${(err as Error).message.split('\n')[0]}`
        })
      },
      { once: true },
    )
  }

  const specFor = async (role: Role, index: number): Promise<ServerSpec> => {
    const port = await uniquePort()
    return {
      name: `${role}#${index}`,
      args: [join(REPO, 'bin/smsgw.js'), role],
      cwd: REPO,
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: g.databaseUrl,
        NATS_URL: g.natsUrl,
        SMSGW_NATS_STREAM: stream,
        SMSGW_NATS_PREFIX: `chaos${suffix}`,
        SMSGW_ADMIN_TOKEN: adminToken,
        SMSGW_CARRIERS: carriersFile,
        SMSGW_DATA_DIR: dir,
        SMSGW_WEBHOOK_SECRET_KEY: webhookKey,
        // The scenarios' receiver listens on 127.0.0.1; retries start fast so a run settles soon.
        SMSGW_WEBHOOK_ALLOW_INSECURE: 'true',
        SMSGW_WEBHOOK_RETRY_BASE_MS: '200',
        LOG_LEVEL: 'warn',
      },
      url: `http://127.0.0.1:${port}`,
      readyTimeoutMs: 60_000,
    }
  }
  const launch = async (role: Role, count: number) => {
    const started = await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const spec = await specFor(role, index)
        return { role, index, spec, proc: await startServer(spec), expectExit: false }
      }),
    )
    members.push(...started)
    for (const m of started) supervise(m)
  }

  try {
    // Workers first: a lane's credit window is read from its durable, which the first worker creates.
    await launch('webhooks', g.shape.webhooks ?? 0)
    await launch('worker', g.shape.worker)
    await launch('dispatcher', g.shape.dispatcher)
    await launch('api', g.shape.api)
  } catch (err) {
    stopping = true
    await Promise.all(members.map((m) => m.proc.stop()))
    throw err
  }

  const find = (role: Role, index: number) => {
    const m = members.find((x) => x.role === role && x.index === index)
    if (!m) throw new Error(`no ${role}#${index} in this gateway`)
    return m
  }

  return {
    apiUrls: members.filter((m) => m.role === 'api').map((m) => m.spec.url),
    adminToken,
    stream,
    async killAndRestart(role, index) {
      const m = find(role, index)
      m.expectExit = true
      const killedAt = Date.now()
      try {
        process.kill(m.proc.pid, 'SIGKILL')
      } catch {
        // Already gone: start it again all the same.
      }
      const exited = m.proc.exitSignal.aborted
        ? Promise.resolve()
        : new Promise<void>((r) => m.proc.exitSignal.addEventListener('abort', () => r(), { once: true }))
      await Promise.race([exited, sleep(10_000)])
      // Sweeps what it forked and drops its cleanup hook.
      await m.proc.stop()
      const restartedAt = Date.now()
      m.proc = await startServer(m.spec)
      m.expectExit = false
      supervise(m)
      return { role, index, killedAt, restartedAt, readyAt: Date.now() }
    },
    crashes: () => crashes,
    outputTails() {
      return members
        .map((m) => `--- ${m.spec.name} ---\n${m.proc.outputTail().trim().slice(-3000) || '(no output)'}`)
        .join('\n')
    },
    async stop() {
      stopping = true
      // Api first (no new work), then the dispatcher, then workers (they flush statuses).
      for (const role of ['api', 'dispatcher', 'worker', 'webhooks'] as const) {
        await Promise.all(members.filter((m) => m.role === role).map((m) => m.proc.stop()))
      }
      rmSync(dir, { recursive: true, force: true })
      dropDir()
    },
  }
}
