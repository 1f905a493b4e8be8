// Child HTTP servers under test (the gateway, the bare Fastify baseline): start, wait until ready,
// keep the tail of their output for error reports, and make sure they are gone when we are.
import { type ChildProcess, spawn } from 'node:child_process'
import { NODE_FLAGS } from '../src/cli/node-flags.ts'
import { onCleanup } from './cleanup.ts'
import { freePort } from './free-port.ts'

export interface ServerSpec {
  name: string
  /** Arguments to `node` (the script and its arguments), or to `command`. */
  args: string[]
  /** A program to run instead of `node` (Kannel's bearerbox and smsbox). */
  command?: string
  cwd: string
  env: Record<string, string>
  url: string
  /** Give the child an IPC channel so it can exit by itself if this process dies abruptly. */
  ipc?: boolean
  readyPath?: string
  readyTimeoutMs?: number
  /** Any HTTP answer means ready (a server that answers its root with 404). Default: 200 only. */
  readyOnAnyStatus?: boolean
}

export interface ServerProcess {
  name: string
  pid: number
  url: string
  /** Aborted when the child exits, so a running load test can stop early instead of timing out. */
  exitSignal: AbortSignal
  outputTail(): string
  stop(): Promise<void>
}

const TAIL_BYTES = 64 * 1024
const live = new Set<number>()

// Last resort for paths that skip async cleanup (process.exit from a second Ctrl-C, a crash):
// children run in their own process group, so kill the group synchronously.
process.on('exit', () => {
  for (const pid of live) killGroup(pid, 'SIGKILL')
})

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: already gone.
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  // Own process group (detached) so Ctrl-C reaches only us and we decide the shutdown order,
  // and so anything the server forks goes away with it.
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server under load.
  // smsgw runs with the V8 flags it is deployed with (src/cli/node-flags.ts); BENCH_SMSGW_NODE_FLAGS
  // replaces them ('' for none: an A/B of the flags themselves).
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const smsgwFlags = spec.args[0]?.endsWith('bin/smsgw.js')
    ? (process.env.BENCH_SMSGW_NODE_FLAGS?.split(' ').filter(Boolean) ?? NODE_FLAGS)
    : []
  const [program, args] = spec.command
    ? [spec.command, spec.args]
    : [process.execPath, [...smsgwFlags, ...nodeArgs, ...spec.args]]
  const child = spawn(program, args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', ...(spec.ipc ? (['ipc'] as const) : [])],
  })
  let tail = ''
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-TAIL_BYTES)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)

  const exit = new AbortController()
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid)
      exit.abort(new Error(`${spec.name} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`))
      resolve()
    })
    child.once('error', (err) => {
      exit.abort(err)
      resolve()
    })
  })
  if (child.pid !== undefined) live.add(child.pid)

  let stopping: Promise<void> | undefined
  const server: ServerProcess = {
    name: spec.name,
    pid: child.pid ?? -1,
    url: spec.url,
    exitSignal: exit.signal,
    outputTail: () => tail,
    stop: () => {
      stopping ??= stopChild(child, exited).finally(() => dropCleanup())
      return stopping
    },
  }
  const dropCleanup = onCleanup(() => server.stop())

  try {
    await waitReady(spec, exit.signal)
  } catch (err) {
    await server.stop()
    const output = tail.trim() ? tail.trimEnd() : '(no output)'
    throw new Error(
      `${spec.name} did not become ready: ${(err as Error).message}\n--- ${spec.name} output (stdout+stderr, last ${TAIL_BYTES / 1024} KiB) ---\n${output}\n---`,
    )
  }
  return server
}

/**
 * A bench-side helper server (`node --import tsx <script>` with PORT/HOST on a free loopback
 * port, an IPC channel so it exits with us): the bare Fastify baseline, the webhook receiver.
 */
export async function startScript(spec: {
  name: string
  script: string
  cwd: string
  readyPath?: string
  readyTimeoutMs?: number
}): Promise<ServerProcess> {
  const port = await freePort()
  return startServer({
    name: spec.name,
    args: ['--import', 'tsx', spec.script],
    cwd: spec.cwd,
    env: { PORT: String(port), HOST: '127.0.0.1' },
    url: `http://127.0.0.1:${port}`,
    ipc: true,
    ...(spec.readyPath ? { readyPath: spec.readyPath } : {}),
    ...(spec.readyTimeoutMs ? { readyTimeoutMs: spec.readyTimeoutMs } : {}),
  })
}

async function waitReady(spec: ServerSpec, exitSignal: AbortSignal): Promise<void> {
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000)
  const url = spec.url + (spec.readyPath ?? '/health/ready')
  let last = 'no answer yet'
  while (Date.now() < deadline) {
    if (exitSignal.aborted) throw exitSignal.reason as Error
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200 || spec.readyOnAnyStatus) return
      last = `GET ${url} → ${res.status}`
    } catch (err) {
      last = `GET ${url}: ${(err as Error).cause ?? (err as Error).message}`
    }
    await sleep(200)
  }
  throw new Error(
    `no 200 from ${url} within ${Math.round((spec.readyTimeoutMs ?? 60_000) / 1000)} s (${last})`,
  )
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  if (child.exitCode === null && child.signalCode === null) {
    killGroup(pid, 'SIGTERM')
    const graceful = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])
    if (!graceful) {
      killGroup(pid, 'SIGKILL')
      await Promise.race([exited, sleep(5000)])
    }
  }
  // Sweep anything the server forked that outlived it.
  killGroup(pid, 'SIGKILL')
  live.delete(pid)
}
