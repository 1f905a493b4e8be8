// `npm run bench -- streams`: memory per open idle live stream (GET /v1/events/stream). A server
// process (bench/stream-server.ts, PostgreSQL + in-process bus) is measured after a full GC with no
// stream, then with N idle SSE streams spread over the customers, all on loopback.
import { type ChildProcess, spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { parseArgs } from 'node:util'
import { recreateDatabase } from './bench-db.ts'
import { onCleanup } from './cleanup.ts'
import { parseOrUsage } from './cli-args.ts'
import { DEFAULT_PG_URL } from './stack.ts'

export const usage = `usage: npm run bench -- streams [options]

  --streams N      idle SSE streams to open (default 1000)
  --customers N    customers they are spread over (default 100)
  --pg-url URL     admin URL of PostgreSQL (default ${DEFAULT_PG_URL}); database smsgw_bench_streams is recreated
`

interface Memory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

const MB = 1024 * 1024

async function startServer(dbUrl: string, customers: number) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/stream-server.ts', dbUrl, String(customers)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  onCleanup(async () => {
    child.kill('SIGTERM')
  })
  let out = ''
  for await (const chunk of child.stdout as NodeJS.ReadableStream) {
    out += String(chunk)
    if (out.includes('\n')) break
  }
  return JSON.parse(out.split('\n')[0] as string) as { url: string; keys: string[] }
}

function openIdle(agent: Agent, url: string, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/events/stream`, { agent, headers: { authorization: `Bearer ${key}` } })
    req.on('error', reject)
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`))
      res.setEncoding('utf8')
      // Idle from here on: heartbeats only, read and dropped.
      let head = ''
      res.on('data', (chunk: string) => {
        if (head === null) return
        head += chunk
        if (head.includes(': live')) resolve()
      })
    })
    req.end()
  })
}

async function memory(url: string): Promise<Memory> {
  const res = await fetch(`${url}/bench/memory`)
  return (await res.json()) as Memory
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: argv,
      options: {
        streams: { type: 'string', default: '1000' },
        customers: { type: 'string', default: '100' },
        'pg-url': { type: 'string', default: DEFAULT_PG_URL },
      },
    }),
  )
  const streams = Number(values.streams)
  const customers = Number(values.customers)
  const dbUrl = await recreateDatabase(values['pg-url'], 'smsgw_bench_streams')
  const server = await startServer(dbUrl, customers)
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
  // Warm-up: the code paths of a stream are loaded before the baseline.
  await openIdle(agent, server.url, server.keys[0] as string)
  agent.destroy()
  const baseline = await waitSettled(server.url)
  const clients = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
  const started = Date.now()
  for (let i = 0; i < streams; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, streams - i) }, (_, k) =>
        openIdle(clients, server.url, server.keys[(i + k) % customers] as string),
      ),
    )
  }
  const openMs = Date.now() - started
  const loaded = await memory(server.url)
  const per = (k: keyof Memory) => (loaded[k] - baseline[k]) / streams / 1024
  console.log(`${streams} idle SSE streams over ${customers} customers, opened in ${openMs} ms (loopback)`)
  console.log(`server memory after GC   baseline      with streams   per stream`)
  for (const k of ['rss', 'heapUsed', 'external', 'arrayBuffers'] as const) {
    console.log(
      `  ${k.padEnd(22)} ${(baseline[k] / MB).toFixed(1).padStart(8)} MB ${(loaded[k] / MB).toFixed(1).padStart(10)} MB ${per(k).toFixed(1).padStart(9)} KB`,
    )
  }
  clients.destroy()
  return 0
}

/** The baseline once the closed warm-up stream is gone: two close readings of the heap. */
async function waitSettled(url: string): Promise<Memory> {
  let last = await memory(url)
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200))
    const m = await memory(url)
    if (Math.abs(m.heapUsed - last.heapUsed) < 64 * 1024) return m
    last = m
  }
  return last
}
