// Kannel's side of `vs-kannel`, as ../shared/kannel-bench/run.sh runs it (config A: internal DLR
// storage, file store, log level 1, window 100): its config template rendered into a temporary
// directory with free ports, the SMSC simulator and the DLR sink of that folder (node, with this
// repository's node_modules for `smpp`), then bearerbox and smsbox (Debian package `kannel`).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onCleanup } from '../cleanup.ts'
import { freePort } from '../free-port.ts'
import { type ServerProcess, startServer } from '../server-process.ts'

export const KANNEL_USER = 'bench'
export const KANNEL_PASS = 'benchpw'

export interface SimStats {
  submits: number
  dup_submits: number
  no_ref: number
  receipts_sent: number
  receipts_acked: number
  receipts_nacked: number
  binds: number
  first_submit_ms: number
  last_submit_ms: number
  last_receipt_ack_ms: number
}

export interface SinkStats {
  hits: number
  delivered: number
  delivered_unique: number
  delivered_dup: number
  other_status: Record<string, number>
  bad: number
  last_delivered_ms: number
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  return (await res.json()) as T
}

/** A request whose answer does not matter (the harness's /reset). */
export async function hit(url: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  await res.arrayBuffer()
}

/** Where the Kannel harness lives; it must hold the simulator, the sink and the config template. */
export function kannelBenchDir(dir: string): string {
  for (const f of ['smsc-sim.js', 'dlr-sink.js', 'conf/kannel.conf.tmpl']) {
    if (!existsSync(join(dir, f)))
      throw new Error(`${join(dir, f)} not found: --kannel-bench must name the kannel-bench folder`)
  }
  return dir
}

export interface Sim {
  process: ServerProcess
  smppPort: number
  stats: () => Promise<SimStats>
  reset: () => Promise<void>
}

/** The harness's SMSC simulator (receipts DLR_DELAY_MS after each submit). */
export async function startSim(benchDir: string, repoRoot: string, receiptDelayMs: number): Promise<Sim> {
  const [smppPort, statsPort] = [await freePort(), await freePort()]
  const statsUrl = `http://127.0.0.1:${statsPort}`
  const process = await startServer({
    name: 'smsc-sim',
    args: [join(benchDir, 'smsc-sim.js')],
    cwd: benchDir,
    env: {
      PORT: String(smppPort),
      STATS_PORT: String(statsPort),
      DLR_DELAY_MS: String(receiptDelayMs),
      // The harness has no node_modules of its own here: `smpp` (0.5.1) comes from this repository.
      NODE_PATH: join(repoRoot, 'node_modules'),
    },
    url: statsUrl,
    readyPath: '/stats',
  })
  return {
    process,
    smppPort,
    stats: () => getJson<SimStats>(`${statsUrl}/stats`),
    reset: () => hit(`${statsUrl}/reset`),
  }
}

export interface Kannel {
  sendsmsUrl: string
  dlrBase: string
  sink: ServerProcess
  bearerbox: ServerProcess
  smsbox: ServerProcess
  sinkStats: () => Promise<SinkStats>
  resetSink: () => Promise<void>
  stop: () => Promise<void>
}

function binary(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name)
  }
  throw new Error(`${name} not found: install Kannel (apt-get install -y kannel)`)
}

/** bearerbox + smsbox on `sim`, and the DLR sink their dlr-url calls go to. */
export async function startKannel(benchDir: string, sim: Sim): Promise<Kannel> {
  const [bearerbox, smsbox] = [binary('bearerbox'), binary('smsbox')]
  const run = mkdtempSync(join(tmpdir(), 'vs-kannel-'))
  onCleanup(() => rmSync(run, { recursive: true, force: true }))
  const [adminPort, boxPort, sendsmsPort, sinkPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const conf = readFileSync(join(benchDir, 'conf/kannel.conf.tmpl'), 'utf8')
    .replaceAll('@RUN@', run)
    .replaceAll('@LOGLEVEL@', '1')
    .replace('@DLR@', 'internal')
    .replace('@STORE@', `store-type = file\nstore-location = "${run}/kannel.store"`)
    .replace('@WINDOW@', '100')
    .replace(/@(CORE|SMSC|SMSBOX)_EXTRA@/g, '')
    .replace(/^admin-port = \d+$/m, `admin-port = ${adminPort}`)
    .replace(/^smsbox-port = \d+$/m, `smsbox-port = ${boxPort}`)
    .replace(/^port = \d+$/m, `port = ${sim.smppPort}`)
    .replace(/^sendsms-port = \d+$/m, `sendsms-port = ${sendsmsPort}`)
  const confFile = join(run, 'kannel.conf')
  writeFileSync(confFile, conf)
  const sinkUrl = `http://127.0.0.1:${sinkPort}`
  const sink = await startServer({
    name: 'dlr-sink',
    args: [join(benchDir, 'dlr-sink.js')],
    cwd: benchDir,
    env: { PORT: String(sinkPort) },
    url: sinkUrl,
    readyPath: '/stats',
  })
  const box = (name: string, command: string, url: string, readyPath: string) =>
    startServer({
      name,
      command,
      args: ['-v', '2', confFile],
      cwd: run,
      env: {},
      url,
      readyPath,
      readyOnAnyStatus: true,
      readyTimeoutMs: 30_000,
    })
  const bb = await box('bearerbox', bearerbox, `http://127.0.0.1:${adminPort}`, '/status.txt?password=bar')
  const sb = await box('smsbox', smsbox, `http://127.0.0.1:${sendsmsPort}`, '/')
  // Submits go nowhere until the SMPP bind is up.
  const deadline = Date.now() + 30_000
  while ((await sim.stats()).binds < 1) {
    if (Date.now() > deadline) throw new Error('Kannel did not bind to the SMSC simulator within 30 s')
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    sendsmsUrl: `http://127.0.0.1:${sendsmsPort}`,
    dlrBase: sinkUrl,
    sink,
    bearerbox: bb,
    smsbox: sb,
    sinkStats: () => getJson<SinkStats>(`${sinkUrl}/stats`),
    resetSink: () => hit(`${sinkUrl}/reset`),
    async stop() {
      await sb.stop()
      await bb.stop()
      await sink.stop()
    },
  }
}
