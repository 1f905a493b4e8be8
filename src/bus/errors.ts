/** Stable codes of bus failures: callers branch on `code` (or the class), never on messages. */
export const BusErrorCodes = {
  Unavailable: 'bus_unavailable',
  Closed: 'bus_closed',
  Subject: 'bus_invalid_subject',
  Config: 'bus_invalid_config',
  Payload: 'bus_invalid_payload',
  Handler: 'bus_handler_failed',
  Consumer: 'bus_consumer_problem',
} as const

export type BusErrorCode = (typeof BusErrorCodes)[keyof typeof BusErrorCodes]

export abstract class BusError extends Error {
  abstract readonly code: BusErrorCode
  /** True when the same call may succeed later (publish again with the same msgId). */
  readonly retryable: boolean = false
}

/** The broker is unreachable or did not confirm in time. Whether it stored the message is unknown. */
export class BusUnavailableError extends BusError {
  readonly code = BusErrorCodes.Unavailable
  override readonly retryable = true
  override readonly name = 'BusUnavailableError'
}

/** The bus was closed by its owner; a new one is needed. */
export class BusClosedError extends BusError {
  readonly code = BusErrorCodes.Closed
  override readonly name = 'BusClosedError'
  constructor() {
    super('bus is closed')
  }
}

/** A subject that is malformed or outside the stream's subjects: a programming error. */
export class BusSubjectError extends BusError {
  readonly code = BusErrorCodes.Subject
  override readonly name = 'BusSubjectError'
}

/** Consumer or stream options that cannot be honoured (bad name, a durable's subject changed). */
export class BusConfigError extends BusError {
  readonly code = BusErrorCodes.Config
  override readonly name = 'BusConfigError'
}

/** Data that is not JSON-serialisable, or a stored payload that is not JSON (it is terminated). */
export class BusPayloadError extends BusError {
  readonly code = BusErrorCodes.Payload
  override readonly name = 'BusPayloadError'
}

/** A handler threw; the message was nak'ed with the consumer's errorDelayMs. */
export class BusHandlerError extends BusError {
  readonly code = BusErrorCodes.Handler
  override readonly name = 'BusHandlerError'
  constructor(
    readonly durable: string,
    readonly subject: string,
    readonly messageId: string,
    readonly deliveryCount: number,
    options: ErrorOptions,
  ) {
    super(`handler of ${durable} failed on ${messageId} (${subject}, delivery ${deliveryCount})`, options)
  }
}

/** The broker reported trouble with a running consumer (deleted, not found); it keeps retrying. */
export class BusConsumerError extends BusError {
  readonly code = BusErrorCodes.Consumer
  override readonly name = 'BusConsumerError'
}
