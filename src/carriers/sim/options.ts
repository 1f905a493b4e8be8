// Behaviour knobs of the carrier simulator, their defaults and validation. Settable at start and at
// run time (setOptions), so a test can take the carrier down and bring it back.

/** A fixed delay or one drawn uniformly from [min, max], in ms. */
export type Millis = number | { min: number; max: number }

export interface OutcomeMix {
  delivered: number
  undelivered: number
  expired: number
}

export interface SimOptions {
  /** Delay before answering a submit. Default 0. */
  latencyMs: Millis
  /** Share of submits answered ESME_RSYSERR / HTTP 503, 0..1. Default 0. */
  transientErrorRate: number
  /** Share of submits answered ESME_RINVDSTADR / HTTP 400, 0..1. Default 0. */
  permanentErrorRate: number
  /** Submits per second accepted on each endpoint (SMPP and HTTP count apart); beyond it ESME_RTHROTTLED / HTTP 429. Default null: no cap. */
  throughputPerSec: number | null
  /** Delay from accepting a submit to sending its receipt. Default 0. */
  receiptDelayMs: Millis
  /** Relative weights of final receipt outcomes. Default all delivered. */
  outcomeMix: OutcomeMix
  /** Send receipts at all (false: a carrier that never reports). Default true. */
  receipts: boolean
  /** Carrier down: SMPP refuses binds and drops sessions, HTTP drops connections. Default false. */
  outage: boolean
  /** Where HTTP receipts are POSTed. Default null: none sent. */
  dlrUrl: string | null
  /** Where HTTP MO messages are POSTed by sendInbound. Default null. */
  inboundUrl: string | null
  /** Standard Webhooks secret (`whsec_…`) HTTP receipts and MO are signed with. Default null: unsigned. */
  webhookSecret: string | null
  /** Credentials a bind must present; null accepts any. Default null. */
  systemId: string | null
  password: string | null
  /** Drop an SMPP session that sent nothing for this long (0 = never), as many SMSCs do. Default 0. */
  idleTimeoutMs: number
  /**
   * The recipient of a message sent from a number answers it with this MO (after the receipt
   * delay), over the protocol it came by: a two-way conversation to try. Default null: no reply.
   */
  replyBody: string | null
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  latencyMs: 0,
  transientErrorRate: 0,
  permanentErrorRate: 0,
  throughputPerSec: null,
  receiptDelayMs: 0,
  outcomeMix: { delivered: 1, undelivered: 0, expired: 0 },
  receipts: true,
  outage: false,
  dlrUrl: null,
  inboundUrl: null,
  webhookSecret: null,
  systemId: null,
  password: null,
  idleTimeoutMs: 0,
  replyBody: null,
}

export class SimOptionsError extends Error {
  readonly code = 'invalid_sim_options'
}

function fail(field: string, message: string): never {
  throw new SimOptionsError(`${field}: ${message}`)
}

function checkMillis(field: string, v: Millis): void {
  if (typeof v === 'number') {
    if (!(Number.isFinite(v) && v >= 0)) fail(field, 'must be a number ≥ 0')
    return
  }
  if (!(Number.isFinite(v.min) && Number.isFinite(v.max) && v.min >= 0 && v.max >= v.min)) {
    fail(field, 'must be {min, max} with 0 ≤ min ≤ max')
  }
}

function checkRate(field: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0 && v <= 1)) fail(field, 'must be between 0 and 1')
}

function checkUrl(field: string, v: string | null): void {
  if (v !== null && !/^https?:\/\/\S+$/.test(v)) fail(field, 'must be an http(s) URL or null')
}

/** Merges `patch` over `base`, validating the result; throws SimOptionsError naming the field. */
export function mergeSimOptions(base: SimOptions, patch: Partial<SimOptions>): SimOptions {
  const o: SimOptions = { ...base, outcomeMix: { ...base.outcomeMix, ...patch.outcomeMix } }
  // Only known keys are taken, so callers can pass a wider object (start-up options with ports).
  for (const key of Object.keys(DEFAULT_SIM_OPTIONS) as Array<keyof SimOptions>) {
    if (key !== 'outcomeMix' && patch[key] !== undefined) Object.assign(o, { [key]: patch[key] })
  }
  checkMillis('latencyMs', o.latencyMs)
  checkMillis('receiptDelayMs', o.receiptDelayMs)
  checkRate('transientErrorRate', o.transientErrorRate)
  checkRate('permanentErrorRate', o.permanentErrorRate)
  if (o.transientErrorRate + o.permanentErrorRate > 1) {
    fail('transientErrorRate', 'plus permanentErrorRate must not exceed 1')
  }
  if (o.throughputPerSec !== null && !(Number.isFinite(o.throughputPerSec) && o.throughputPerSec > 0)) {
    fail('throughputPerSec', 'must be a number > 0 or null')
  }
  const weights = Object.entries(o.outcomeMix)
  for (const [k, w] of weights) if (!(Number.isFinite(w) && w >= 0)) fail(`outcomeMix.${k}`, 'must be ≥ 0')
  if (weights.every(([, w]) => w === 0)) fail('outcomeMix', 'needs at least one positive weight')
  checkUrl('dlrUrl', o.dlrUrl)
  checkUrl('inboundUrl', o.inboundUrl)
  if (o.webhookSecret !== null && !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(o.webhookSecret))
    fail('webhookSecret', 'must be whsec_<base64> or null')
  if (!(Number.isFinite(o.idleTimeoutMs) && o.idleTimeoutMs >= 0)) fail('idleTimeoutMs', 'must be ≥ 0')
  if (
    o.replyBody !== null &&
    !(typeof o.replyBody === 'string' && o.replyBody.length >= 1 && o.replyBody.length <= 1600)
  )
    fail('replyBody', 'must be 1-1600 characters or null')
  return o
}
