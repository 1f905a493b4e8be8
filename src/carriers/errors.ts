// Carrier failures, classified by what the caller should do next: the retry decision lives in the
// type (retry later, slow down, or give up), the stable `code` says why.

export type CarrierErrorKind = 'permanent' | 'transient' | 'throttled' | 'unconfirmed'

export type CarrierErrorCode =
  // transient
  | 'not_bound'
  | 'connection_lost'
  | 'connection_failed'
  | 'timeout'
  | 'carrier_error'
  | 'carrier_closed'
  | 'invalid_response'
  // throttled
  | 'throttled'
  // permanent
  | 'invalid_destination'
  | 'invalid_source'
  | 'invalid_message'
  | 'rejected'

export interface CarrierErrorOptions {
  code: CarrierErrorCode
  carrier?: string
  /** What the carrier said: SMPP command_status or HTTP status. */
  carrierStatus?: number
  /** Parts of a multipart message the carrier had already taken before this one failed. */
  acceptedCarrierIds?: string[]
  /** True when the request provably never left us (not written to the link): safe to send again. */
  unsent?: boolean
  cause?: unknown
}

export abstract class CarrierError extends Error {
  abstract readonly kind: CarrierErrorKind
  readonly code: CarrierErrorCode
  readonly carrier: string | undefined
  readonly carrierStatus: number | undefined
  readonly unsent: boolean
  acceptedCarrierIds: string[]

  constructor(message: string, opts: CarrierErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = opts.code
    this.carrier = opts.carrier
    this.carrierStatus = opts.carrierStatus
    this.acceptedCarrierIds = opts.acceptedCarrierIds ?? []
    this.unsent = opts.unsent ?? false
  }
}

/** The carrier will never take this message: do not retry it anywhere with the same content. */
export class PermanentCarrierError extends CarrierError {
  override readonly name = 'PermanentCarrierError'
  readonly kind = 'permanent'
}

/** The carrier (or the link to it) failed this time: retry with backoff, possibly elsewhere. */
export class TransientCarrierError extends CarrierError {
  override readonly name = 'TransientCarrierError'
  readonly kind = 'transient'
}

/** The carrier asks us to slow down; the message itself is fine. */
export class ThrottledError extends CarrierError {
  override readonly name = 'ThrottledError'
  readonly kind = 'throttled'
  /** Carrier's hint (HTTP Retry-After), when it gave one. */
  readonly retryAfterMs: number | undefined

  constructor(message: string, opts: Omit<CarrierErrorOptions, 'code'> & { retryAfterMs?: number }) {
    super(message, { ...opts, code: 'throttled' })
    this.retryAfterMs = opts.retryAfterMs
  }
}

/**
 * The submit was written to the carrier and no answer came (timeout, or the link dropped first):
 * the carrier may have the message. Never resend it; it ends `unknown`, charged.
 */
export class UnconfirmedSubmitError extends CarrierError {
  override readonly name = 'UnconfirmedSubmitError'
  readonly kind = 'unconfirmed'
}

/** A carrier called our provider endpoint with a payload we cannot read (the route answers 400). */
export class CarrierPayloadError extends Error {
  override readonly name = 'CarrierPayloadError'
  readonly code = 'invalid_carrier_payload'
  readonly param: string

  constructor(param: string, message: string) {
    super(`${param}: ${message}`)
    this.param = param
  }
}

export function isCarrierError(e: unknown): e is CarrierError {
  return e instanceof CarrierError
}

export function isPermanentCarrierError(e: unknown): e is PermanentCarrierError {
  return e instanceof PermanentCarrierError
}

export function isTransientCarrierError(e: unknown): e is TransientCarrierError {
  return e instanceof TransientCarrierError
}

export function isUnconfirmedSubmitError(e: unknown): e is UnconfirmedSubmitError {
  return e instanceof UnconfirmedSubmitError
}

export function isThrottledError(e: unknown): e is ThrottledError {
  return e instanceof ThrottledError
}

/** SMPP 3.4 command_status values we send, receive or classify (§5.1.3). */
export const SmppStatus = {
  ESME_ROK: 0x00,
  ESME_RINVMSGLEN: 0x01,
  ESME_RINVCMDLEN: 0x02,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RINVPRTFLG: 0x06,
  ESME_RINVREGDLVFLG: 0x07,
  ESME_RSYSERR: 0x08,
  ESME_RINVSRCADR: 0x0a,
  ESME_RINVDSTADR: 0x0b,
  ESME_RINVMSGID: 0x0c,
  ESME_RBINDFAIL: 0x0d,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RMSGQFUL: 0x14,
  ESME_RINVSERTYP: 0x15,
  ESME_RINVESMCLASS: 0x43,
  ESME_RSUBMITFAIL: 0x45,
  ESME_RINVSRCTON: 0x48,
  ESME_RINVSRCNPI: 0x49,
  ESME_RINVDSTTON: 0x50,
  ESME_RINVDSTNPI: 0x51,
  ESME_RTHROTTLED: 0x58,
  ESME_RINVSCHED: 0x61,
  ESME_RINVEXPIRY: 0x62,
  ESME_RX_T_APPN: 0x64,
  ESME_RX_P_APPN: 0x65,
  ESME_RX_R_APPN: 0x66,
  ESME_RINVOPTPARSTREAM: 0xc0,
  ESME_ROPTPARNOTALLWD: 0xc1,
  ESME_RINVPARLEN: 0xc2,
  ESME_RMISSINGOPTPARAM: 0xc3,
  ESME_RINVOPTPARAMVAL: 0xc4,
  ESME_RUNKNOWNERR: 0xff,
} as const

const S = SmppStatus

const THROTTLED = new Set<number>([S.ESME_RTHROTTLED, S.ESME_RMSGQFUL])

// Everything else that is not listed here (SYSERR, SUBMITFAIL, X_T_APPN, bind state, vendor codes)
// is treated as transient: a bounded retry is cheaper than failing a message the carrier might take.
const PERMANENT: ReadonlyMap<number, CarrierErrorCode> = new Map<number, CarrierErrorCode>([
  [S.ESME_RINVDSTADR, 'invalid_destination'],
  [S.ESME_RINVDSTTON, 'invalid_destination'],
  [S.ESME_RINVDSTNPI, 'invalid_destination'],
  [S.ESME_RINVSRCADR, 'invalid_source'],
  [S.ESME_RINVSRCTON, 'invalid_source'],
  [S.ESME_RINVSRCNPI, 'invalid_source'],
  [S.ESME_RINVMSGLEN, 'invalid_message'],
  [S.ESME_RINVCMDLEN, 'invalid_message'],
  [S.ESME_RINVCMDID, 'invalid_message'],
  [S.ESME_RINVPRTFLG, 'invalid_message'],
  [S.ESME_RINVREGDLVFLG, 'invalid_message'],
  [S.ESME_RINVESMCLASS, 'invalid_message'],
  [S.ESME_RINVSERTYP, 'invalid_message'],
  [S.ESME_RINVSCHED, 'invalid_message'],
  [S.ESME_RINVEXPIRY, 'invalid_message'],
  [S.ESME_RINVOPTPARSTREAM, 'invalid_message'],
  [S.ESME_ROPTPARNOTALLWD, 'invalid_message'],
  [S.ESME_RINVPARLEN, 'invalid_message'],
  [S.ESME_RMISSINGOPTPARAM, 'invalid_message'],
  [S.ESME_RINVOPTPARAMVAL, 'invalid_message'],
  [S.ESME_RX_P_APPN, 'rejected'],
  [S.ESME_RX_R_APPN, 'rejected'],
])

export function smppStatusName(status: number): string {
  for (const [name, value] of Object.entries(SmppStatus)) if (value === status) return name
  return `0x${status.toString(16).padStart(8, '0')}`
}

/** Classifies a non-zero SMPP command_status from a response to `command`. */
export function errorForSmppStatus(status: number, command: string, carrier?: string): CarrierError {
  const message = `${command} failed: ${smppStatusName(status)} (0x${status.toString(16)})`
  const base = { carrier, carrierStatus: status }
  if (THROTTLED.has(status)) return new ThrottledError(message, base)
  const permanent = PERMANENT.get(status)
  if (permanent) return new PermanentCarrierError(message, { ...base, code: permanent })
  return new TransientCarrierError(message, { ...base, code: 'carrier_error' })
}
