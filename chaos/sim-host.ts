// One carrier simulator in a process of its own, with a small control server beside it:
//   GET /health, GET /counters (the simulator's counters), GET /copies (accepted copies per message
//   id), GET /options, PATCH /options (change behaviour at run time: outage, throughput, receipts).
// `smsgw carrier-sim` has no run-time control route yet, and restarting a simulator would drop its
// counters; this host lets the chaos harness flip a carrier's behaviour mid-run.
// usage: node --import tsx chaos/sim-host.ts '<json: {controlPort, smppPort, httpPort, options}>'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createCarrierSim, type SimOptions } from '../src/carriers/sim/carrier-sim.ts'
import { SimOptionsError } from '../src/carriers/sim/options.ts'

export interface SimHostSpec {
  controlPort: number
  smppPort: number
  httpPort: number
  options: Partial<SimOptions>
}

/** Accepted copies per message id, gathered from the simulator's submit log. */
export interface CopiesReport {
  /** False when the log rotated past submits before they were read: the per-id view is partial. */
  complete: boolean
  acceptedSeen: number
  copies: Record<string, number>
}

const spec = JSON.parse(process.argv[2] ?? '{}') as SimHostSpec
const sim = await createCarrierSim({
  host: '127.0.0.1',
  smppPort: spec.smppPort,
  httpPort: spec.httpPort,
  ...spec.options,
})

// The submit log keeps the last 1000 answers; reading it often enough sees every accepted part
// (each has its own carrier id). A copy is an accepted first (or only) part, as in the counters.
const seenParts = new Set<string>()
const copies = new Map<string, number>()
const collect = () => {
  for (const r of sim.submits()) {
    if (r.verdict !== 'accepted' || !r.carrierId || seenParts.has(r.carrierId)) continue
    seenParts.add(r.carrierId)
    if ((r.concat?.seq ?? 1) === 1 && r.messageId) copies.set(r.messageId, (copies.get(r.messageId) ?? 0) + 1)
  }
}
const collector = setInterval(collect, 50)

const send = (res: ServerResponse, status: number, json: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(json))
}
const readJson = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
}

const control = createServer((req, res) => {
  void (async () => {
    if (req.method === 'GET' && req.url === '/health') return send(res, 200, { ok: true })
    if (req.method === 'GET' && req.url === '/counters') return send(res, 200, sim.counters())
    if (req.method === 'GET' && req.url === '/options') return send(res, 200, sim.options())
    if (req.method === 'GET' && req.url === '/copies') {
      collect()
      const report: CopiesReport = {
        complete: seenParts.size === sim.counters().accepted,
        acceptedSeen: seenParts.size,
        copies: Object.fromEntries(copies),
      }
      return send(res, 200, report)
    }
    if (req.method === 'PATCH' && req.url === '/options') {
      sim.setOptions((await readJson(req)) as Partial<SimOptions>)
      return send(res, 200, sim.options())
    }
    send(res, 404, { error: { code: 'not_found' } })
  })().catch((err: unknown) => {
    send(res, err instanceof SimOptionsError || err instanceof SyntaxError ? 400 : 500, {
      error: { code: 'bad_request', message: String(err) },
    })
  })
})
await new Promise<void>((resolve) => control.listen(spec.controlPort, '127.0.0.1', resolve))

const shutdown = () => {
  clearInterval(collector)
  control.close()
  void sim.close().finally(() => process.exit(0))
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
// Started with an IPC channel: when the harness dies, so do we.
process.on('disconnect', shutdown)
console.log(JSON.stringify({ control: spec.controlPort, smpp: sim.smppPort, http: sim.httpPort }))
