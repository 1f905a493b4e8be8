// The mock carrier (`smsgw carrier-sim`): one SMPP endpoint and one HTTP endpoint sharing settable
// behaviour and counters. Tests, the benchmark and `smsgw start` use it in place of a real network.

import { loadSmpp } from '../smpp/smpp-types.ts'
import { registerMessageIdTlv, SMSGW_MESSAGE_ID_TLV } from '../smpp/tlv.ts'
import { createBehavior } from './behavior.ts'
import { createCounterStore, type SimCounters } from './counters.ts'
import { createHttpSim } from './http-sim.ts'
import { type MoTraffic, type MoTrafficOptions, startMoTraffic } from './mo-traffic.ts'
import { DEFAULT_SIM_OPTIONS, mergeSimOptions, type SimOptions } from './options.ts'
import type { MoConcat } from './smpp-pdus.ts'
import { createSmppSim } from './smpp-sim.ts'
import { createSubmitLog, type SubmitRecord } from './submit-log.ts'
import { createTimers } from './timers.ts'

export type { SimCounters } from './counters.ts'
export type { MoTraffic, MoTrafficOptions, MoVia } from './mo-traffic.ts'
export type { Millis, OutcomeMix, SimOptions } from './options.ts'
export type { MoConcat } from './smpp-pdus.ts'
export type { SubmitRecord } from './submit-log.ts'

export interface CreateCarrierSimOptions extends Partial<SimOptions> {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string
  /** Default 0: a free port. */
  smppPort?: number
  /** Default 0: a free port. */
  httpPort?: number
  /** Vendor TLV tag the connector puts our message id in. Default 0x1400. */
  messageIdTlv?: number
  /** Source of randomness for error rates, latency ranges and outcomes. Default Math.random. */
  random?: () => number
}

export interface CarrierSim {
  readonly host: string
  readonly smppPort: number
  readonly httpPort: number
  /** URL the HTTP connector should POST submits to. */
  readonly httpUrl: string
  counters(): SimCounters
  /**
   * Our message ids (fingerprints without the TLV) of every SMPP submit received since the last
   * reset, answered or not: what a carrier may hold.
   */
  receivedMessageIds(): string[]
  /** The last 1000 submits answered (both endpoints), oldest first. */
  submits(): SubmitRecord[]
  /** Zeroes the counters and empties the submit log. */
  resetCounters(): void
  options(): SimOptions
  /** Changes behaviour at run time; throws SimOptionsError (naming the field) on a bad value. */
  setOptions(patch: Partial<SimOptions>): void
  /** Starts MO traffic at a steady rate (see mo-traffic.ts); stop() it before close(). */
  originate(o: MoTrafficOptions, onError?: (err: unknown) => void): MoTraffic
  /**
   * Injects an MO message: over a bound SMPP session by default (a long one whole in
   * message_payload unless `concat` says `udh` or `sar`), or POSTed to inboundUrl.
   */
  sendInbound(
    m: { from: string; to: string; body: string },
    via?: 'smpp' | 'http',
    concat?: MoConcat,
  ): Promise<void>
  close(): Promise<void>
}

export async function createCarrierSim(opts: CreateCarrierSimOptions = {}): Promise<CarrierSim> {
  const { host = '127.0.0.1', smppPort = 0, httpPort = 0, messageIdTlv = SMSGW_MESSAGE_ID_TLV, random } = opts
  let current = mergeSimOptions(DEFAULT_SIM_OPTIONS, opts)
  const options = () => current
  const smpp = loadSmpp()
  // Registered so an in-process connector and the simulator agree on the field name.
  registerMessageIdTlv(smpp, messageIdTlv)
  const behavior = createBehavior(options, random)
  const counters = createCounterStore()
  const timers = createTimers()
  const log = createSubmitLog()
  // The recipient of a message from a number answers it (replyBody), once its last part is in.
  const add = log.add
  log.add = (r) => {
    add(r)
    const body = current.replyBody
    if (body === null || r.verdict !== 'accepted' || (r.concat && r.concat.seq !== r.concat.total)) return
    if (!/^\+?\d{3,15}$/.test(r.from)) return
    const e164 = (a: string) => (/^\d{9,15}$/.test(a) ? `+${a}` : a)
    timers.after(behavior.receiptDelay(), () => {
      const via = r.protocol === 'smpp' ? 'smpp' : 'http'
      const send = via === 'smpp' ? smppSim.sendInbound : httpSim.sendInbound
      send({ from: e164(r.to), to: e164(r.from), body }).catch((err: unknown) =>
        process.emitWarning(`carrier-sim: reply to ${r.from} not sent: ${(err as Error).message}`),
      )
    })
  }
  const deps = { options, behavior, counters, timers, log }
  const traffic = new Set<MoTraffic>()
  const smppSim = createSmppSim({ ...deps, smpp, messageIdTlv })
  const httpSim = createHttpSim(deps)

  const boundSmppPort = await smppSim.listen(smppPort, host)
  let boundHttpPort: number
  try {
    boundHttpPort = await httpSim.listen(httpPort, host)
  } catch (err) {
    await smppSim.close()
    throw err
  }
  const urlHost = host.includes(':') ? `[${host}]` : host

  return {
    host,
    smppPort: boundSmppPort,
    httpPort: boundHttpPort,
    httpUrl: `http://${urlHost}:${boundHttpPort}/messages`,
    counters: () => counters.snapshot(),
    receivedMessageIds: () => counters.received(),
    submits: () => log.list(),
    resetCounters() {
      counters.reset()
      log.clear()
    },
    options: () => structuredClone(current),
    setOptions(patch) {
      const before = current
      current = mergeSimOptions(current, patch)
      if (current.throughputPerSec !== before.throughputPerSec) behavior.resetThrottle()
      if (current.outage && !before.outage) smppSim.dropSessions()
    },
    originate(
      o,
      onError = (err) => process.emitWarning(`carrier-sim: MO not sent: ${(err as Error).message}`),
    ) {
      const t = startMoTraffic(
        (m, via, concat) => (via === 'smpp' ? smppSim.sendInbound(m, concat) : httpSim.sendInbound(m)),
        o,
        onError,
      )
      traffic.add(t)
      return t
    },
    sendInbound(m, via = 'smpp', concat) {
      return via === 'smpp' ? smppSim.sendInbound(m, concat) : httpSim.sendInbound(m)
    },
    async close() {
      await Promise.all([...traffic].map((t) => t.stop()))
      timers.clear()
      await Promise.all([smppSim.close(), httpSim.close()])
    },
  }
}
