import type { BusErrorHandler, BusMessage } from './bus.ts'
import { BusHandlerError } from './errors.ts'

/** Where a delivery's headers are read: NATS's MsgHdrs ("" when absent) or the memory bus's Map. */
export interface HeaderSource {
  get(name: string): string | undefined
}

export interface DeliveryFields<T> {
  id: string
  seq: number
  subject: string
  data: T
  deliveryCount: number
  /** The message's headers, if it has any (no copy: the adapter's own object). */
  headers?: HeaderSource | undefined
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

/** A delivery on which the first of ack/nak/term wins and later calls are no-ops. */
class SettleOnce<T> implements BusMessage<T>, Delivery<T> {
  readonly id: string
  readonly seq: number
  readonly subject: string
  readonly data: T
  readonly deliveryCount: number
  private readonly headers: HeaderSource | undefined
  settled = false

  // A class, not an object literal of closures: one of these is made per delivery, on the hot path.
  constructor(
    fields: DeliveryFields<T>,
    private readonly settler: Settler,
  ) {
    this.id = fields.id
    this.seq = fields.seq
    this.subject = fields.subject
    this.data = fields.data
    this.deliveryCount = fields.deliveryCount
    this.headers = fields.headers
  }

  header(name: string): string | undefined {
    return this.headers?.get(name) || undefined
  }

  get message(): BusMessage<T> {
    return this
  }

  async ack(): Promise<void> {
    if (this.settle()) this.settler.ack()
  }

  async nak(delayMs = 0): Promise<void> {
    if (this.settle()) this.settler.nak(Math.max(0, delayMs))
  }

  async term(): Promise<void> {
    if (this.settle()) this.settler.term()
  }

  async inProgress(): Promise<void> {
    if (!this.settled) this.settler.inProgress()
  }

  private settle(): boolean {
    if (this.settled) return false
    this.settled = true
    return true
  }
}

export const createDelivery = <T>(fields: DeliveryFields<T>, settler: Settler): Delivery<T> =>
  new SettleOnce(fields, settler)

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
