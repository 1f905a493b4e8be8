import type { BusErrorHandler, BusMessage } from './bus.ts'
import { BusHandlerError } from './errors.ts'

export interface DeliveryFields<T> {
  id: string
  seq: number
  subject: string
  data: T
  deliveryCount: number
}

/** What an adapter does to settle one delivery; called at most once per delivery (bar inProgress). */
export interface Settler {
  ack(): void
  nak(delayMs: number): void
  term(): void
  inProgress(): void
}

export interface Delivery<T> {
  readonly message: BusMessage<T>
  readonly settled: boolean
}

/** Wraps a delivery so that the first of ack/nak/term wins and later calls are no-ops. */
export function createDelivery<T>(fields: DeliveryFields<T>, settler: Settler): Delivery<T> {
  let settled = false
  const settle = async (fn: () => void) => {
    if (settled) return
    settled = true
    fn()
  }
  const message: BusMessage<T> = {
    ...fields,
    ack: () => settle(() => settler.ack()),
    nak: (delayMs = 0) => settle(() => settler.nak(Math.max(0, delayMs))),
    term: () => settle(() => settler.term()),
    inProgress: async () => {
      if (!settled) settler.inProgress()
    },
  }
  return {
    message,
    get settled() {
      return settled
    },
  }
}

export interface HandleOptions<T> {
  durable: string
  handler: (m: BusMessage<T>) => Promise<void>
  errorDelayMs: number
  onError: BusErrorHandler
}

/** Runs the handler; a throw is reported and, unless the handler settled first, nak'ed. Never rejects. */
export async function handleDelivery<T>(d: Delivery<T>, opts: HandleOptions<T>): Promise<void> {
  const m = d.message
  try {
    await opts.handler(m)
  } catch (err) {
    opts.onError(new BusHandlerError(opts.durable, m.subject, m.id, m.deliveryCount, { cause: err }))
    if (!d.settled) await m.nak(opts.errorDelayMs).catch(opts.onError)
  }
}
