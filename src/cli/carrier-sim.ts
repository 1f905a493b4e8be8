// `smsgw carrier-sim [flags]`: runs the mock carrier until closed. The caller (the smsgw CLI) owns
// signals and exit codes; this parses flags, starts the simulator and prints where it listens.

import { parseArgs } from 'node:util'
import {
  type CarrierSim,
  type CreateCarrierSimOptions,
  createCarrierSim,
} from '../carriers/sim/carrier-sim.ts'
import type { MoTrafficOptions } from '../carriers/sim/mo-traffic.ts'
import { type Millis, type OutcomeMix, SimOptionsError } from '../carriers/sim/options.ts'

export const CARRIER_SIM_USAGE = `usage: smsgw carrier-sim [flags]
  --host <addr>                  listen address (default 127.0.0.1)
  --smpp-port <n>                SMPP port (default 2775; 0 = any free port)
  --http-port <n>                HTTP port (default 8775; 0 = any free port)
  --latency-ms <n|min-max>       delay before answering a submit (default 0)
  --transient-error-rate <0..1>  share answered ESME_RSYSERR / HTTP 503 (default 0)
  --permanent-error-rate <0..1>  share answered ESME_RINVDSTADR / HTTP 400 (default 0)
  --throughput <n>               submits/s per endpoint before throttling (default: no cap)
  --receipt-delay-ms <n|min-max> delay before a receipt (default 0)
  --outcome-mix <spec>           e.g. delivered=90,undelivered=8,expired=2 (default all delivered)
  --no-receipts                  never send receipts
  --dlr-url <url>                where HTTP receipts are POSTed
  --inbound-url <url>            where HTTP MO messages are POSTed
  --webhook-secret <whsec_…>     sign HTTP receipts and MO (Standard Webhooks; default unsigned)
  --system-id <s> --password <s> required bind credentials (default: any)
  --idle-timeout-ms <n>          drop SMPP sessions silent this long (default 0 = never)
  --reply-body <text>            answer every message sent from a number with this MO (default: none)
MO (mobile-originated) traffic, to the gateway bound over SMPP and/or --inbound-url:
  --mo-rate <n>                  MO messages per second (default 0: none)
  --mo-to <n1,n2,…>              the gateway's numbers the MO is sent to (required with --mo-rate)
  --mo-from <n1,n2,…>            subscriber numbers (default +14155550000..0099)
  --mo-body <text>               a body to pick from (repeatable; default: Hi there, STOP, START,
                                 HELP and a 3-part UCS-2 text)
  --mo-via smpp|http|mixed       how MO reaches the gateway (default smpp)
  --mo-concat udh|sar|payload    how a long SMPP MO travels (default udh: parts with a UDH)`

function num(flag: string, v: string): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n))
    throw new SimOptionsError(`--${flag}: expected a number, got ${v}`)
  return n
}

function millis(flag: string, v: string): Millis {
  const range = /^(\d+)-(\d+)$/.exec(v)
  return range ? { min: Number(range[1]), max: Number(range[2]) } : num(flag, v)
}

function outcomeMix(v: string): OutcomeMix {
  const mix: OutcomeMix = { delivered: 0, undelivered: 0, expired: 0 }
  for (const pair of v.split(',')) {
    const [k, w] = pair.split('=')
    if (k !== 'delivered' && k !== 'undelivered' && k !== 'expired') {
      throw new SimOptionsError(`--outcome-mix: unknown outcome ${JSON.stringify(k)}`)
    }
    mix[k] = num('outcome-mix', w ?? '')
  }
  return mix
}

/** Parses carrier-sim flags; throws SimOptionsError naming the flag. */
export function parseCarrierSimArgs(argv: string[]): CreateCarrierSimOptions {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    throw new SimOptionsError(err instanceof Error ? err.message : String(err))
  }
  const v = parsed.values
  const o: CreateCarrierSimOptions = {
    host: v.host ?? '127.0.0.1',
    smppPort: v['smpp-port'] === undefined ? 2775 : num('smpp-port', v['smpp-port']),
    httpPort: v['http-port'] === undefined ? 8775 : num('http-port', v['http-port']),
  }
  if (v['latency-ms'] !== undefined) o.latencyMs = millis('latency-ms', v['latency-ms'])
  if (v['transient-error-rate'] !== undefined) {
    o.transientErrorRate = num('transient-error-rate', v['transient-error-rate'])
  }
  if (v['permanent-error-rate'] !== undefined) {
    o.permanentErrorRate = num('permanent-error-rate', v['permanent-error-rate'])
  }
  if (v.throughput !== undefined) o.throughputPerSec = num('throughput', v.throughput)
  if (v['receipt-delay-ms'] !== undefined)
    o.receiptDelayMs = millis('receipt-delay-ms', v['receipt-delay-ms'])
  if (v['outcome-mix'] !== undefined) o.outcomeMix = outcomeMix(v['outcome-mix'])
  if (v['no-receipts']) o.receipts = false
  if (v['dlr-url'] !== undefined) o.dlrUrl = v['dlr-url']
  if (v['inbound-url'] !== undefined) o.inboundUrl = v['inbound-url']
  if (v['webhook-secret'] !== undefined) o.webhookSecret = v['webhook-secret']
  if (v['system-id'] !== undefined) o.systemId = v['system-id']
  if (v.password !== undefined) o.password = v.password
  if (v['idle-timeout-ms'] !== undefined) o.idleTimeoutMs = num('idle-timeout-ms', v['idle-timeout-ms'])
  if (v['reply-body'] !== undefined) o.replyBody = v['reply-body']
  return o
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

/** The MO traffic the flags ask for, or undefined; throws SimOptionsError naming the flag. */
export function parseMoTrafficArgs(argv: string[]): MoTrafficOptions | undefined {
  const v = parse(argv).values
  if (v['mo-rate'] === undefined) return undefined
  const ratePerSec = num('mo-rate', v['mo-rate'])
  if (ratePerSec === 0) return undefined
  if (ratePerSec < 0) throw new SimOptionsError('--mo-rate: must be >= 0')
  const to = list(v['mo-to'])
  if (to.length === 0)
    throw new SimOptionsError('--mo-to: the numbers to send MO to are required with --mo-rate')
  const via = v['mo-via'] ?? 'smpp'
  if (via !== 'smpp' && via !== 'http' && via !== 'mixed')
    throw new SimOptionsError(`--mo-via: expected smpp, http or mixed, got ${via}`)
  const concat = v['mo-concat'] ?? 'udh'
  if (concat !== 'udh' && concat !== 'sar' && concat !== 'payload')
    throw new SimOptionsError(`--mo-concat: expected udh, sar or payload, got ${concat}`)
  return { ratePerSec, to, from: list(v['mo-from']), bodies: v['mo-body'] ?? [], via, concat }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      'smpp-port': { type: 'string' },
      'http-port': { type: 'string' },
      'latency-ms': { type: 'string' },
      'transient-error-rate': { type: 'string' },
      'permanent-error-rate': { type: 'string' },
      throughput: { type: 'string' },
      'receipt-delay-ms': { type: 'string' },
      'outcome-mix': { type: 'string' },
      'no-receipts': { type: 'boolean' },
      'dlr-url': { type: 'string' },
      'inbound-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'system-id': { type: 'string' },
      password: { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'reply-body': { type: 'string' },
      'mo-rate': { type: 'string' },
      'mo-to': { type: 'string' },
      'mo-from': { type: 'string' },
      'mo-body': { type: 'string', multiple: true },
      'mo-via': { type: 'string' },
      'mo-concat': { type: 'string' },
    },
  })
}

/**
 * Starts the simulator from command-line flags and prints its endpoints. Resolves with the running
 * simulator; the caller closes it on SIGINT/SIGTERM. Bad flags reject with SimOptionsError.
 */
export async function runCarrierSim(
  argv: string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<CarrierSim> {
  const simOptions = parseCarrierSimArgs(argv)
  const mo = parseMoTrafficArgs(argv)
  const sim = await createCarrierSim(simOptions)
  out(`carrier-sim smpp ${sim.host}:${sim.smppPort} (bind_transceiver, any credentials unless --system-id)`)
  out(`carrier-sim http POST ${sim.httpUrl}`)
  out(JSON.stringify({ smpp_port: sim.smppPort, http_port: sim.httpPort, http_url: sim.httpUrl }))
  if (mo) {
    // MO over SMPP needs a bound gateway: until one binds, those sends fail and are counted.
    const traffic = sim.originate(mo, () => {})
    const report = setInterval(() => {
      const s = traffic.stats()
      out(
        `carrier-sim mo sent=${s.sent} failed=${s.failed} (${mo.ratePerSec}/s to ${mo.to.join(',')} via ${mo.via})`,
      )
    }, 10_000)
    report.unref()
  }
  return sim
}
