// Many items in one bus message (ADR 4, amendment of issue 12): the dispatcher publishes a pass's
// jobs of a lane in batches, so the broker stores, delivers and acks one message per batch instead
// of one per job. A consumer runs its per-item handler on each item as if it were a message of its
// own; the batch is settled once every item is.
import type { BusMessage } from './bus.ts'

/** The payload of a batch: its items, and each item's own headers (trace context) when it has any. */
export interface BusBatch<T> {
  items: T[]
  headers?: (Readonly<Record<string, string>> | null)[]
}

/** The items of a payload; a payload that is not a batch (an older publisher, a test) is one item. */
export function batchItems(data: unknown): unknown[] {
  const items = (data as Partial<BusBatch<unknown>> | null)?.items
  return Array.isArray(items) ? items : [data]
}

/**
 * The items of a payload (`unpack`: `batchItems` unless the payload has another shape) that
 * `readable` accepts, and how many it did not: an unreadable item would be redelivered for ever,
 * so the consumer reports and drops it.
 */
export function readableItems<T>(
  data: unknown,
  readable: (item: unknown) => item is T,
  unpack: (data: unknown) => unknown[] = batchItems,
): { items: T[]; dropped: number } {
  const all = unpack(data)
  const items = all.filter(readable)
  return { items, dropped: all.length - items.length }
}

/** The msgId of a batch from its first and last items' ids: a re-publish of the same batch is stored once. */
export const batchMsgId = (first: string, last: string, count: number) => `batch:${first}:${last}:${count}`

export interface ItemHandlerOptions {
  /** Wraps each item's run (a concurrency limit shared across batches); default: runs it at once. */
  limit?: <R>(run: () => Promise<R>) => Promise<R>
  /** nak delay of an item whose handler threw (default 1000). */
  errorDelayMs?: number
  onError: (err: unknown) => void
}

/**
 * Runs `handler` on each item of `m` as a BusMessage of its own (same subject, seq and delivery
 * count; its own headers if the batch carries them). `m` is acked once every item was acked or
 * termed. An item nak'ed — or whose handler threw or returned unsettled — makes the whole batch
 * nak'ed, once every other item settled, with the longest delay asked: the redelivery runs every
 * item again, so an item handler must be idempotent (the worker's claim is). Never rejects.
 */
export async function handleBatchItems<T>(
  m: BusMessage<unknown>,
  handler: (item: BusMessage<T>) => Promise<void>,
  opts: ItemHandlerOptions,
): Promise<void> {
  const data = m.data as Partial<BusBatch<T>> | null
  const items = batchItems(m.data) as T[]
  const headers = Array.isArray(data?.items) ? data?.headers : undefined
  const limit = opts.limit ?? ((run) => run())
  const errorDelayMs = opts.errorDelayMs ?? 1000
  let retryInMs: number | undefined
  const retry = (ms: number) => {
    retryInMs = Math.max(retryInMs ?? 0, ms)
  }
  await Promise.all(
    items.map((data, i) =>
      limit(async () => {
        const item = new BatchItem<T>(m, i, data, headers?.[i] ?? undefined)
        try {
          await handler(item)
          if (!item.settledAs)
            opts.onError(new Error(`item ${i} of ${m.id} on ${m.subject} returned unsettled`))
        } catch (err) {
          opts.onError(err)
        }
        if (item.settledAs === 'nak') retry(item.nakDelayMs)
        else if (!item.settledAs) retry(errorDelayMs)
      }),
    ),
  )
  if (retryInMs === undefined) await m.ack()
  else await m.nak(retryInMs)
}

class BatchItem<T> implements BusMessage<T> {
  readonly id: string
  readonly seq: number
  readonly subject: string
  readonly deliveryCount: number
  settledAs: 'ack' | 'nak' | 'term' | undefined
  nakDelayMs = 0

  constructor(
    private readonly batch: BusMessage<unknown>,
    index: number,
    readonly data: T,
    private readonly headers: Readonly<Record<string, string>> | undefined,
  ) {
    this.id = index === 0 ? batch.id : `${batch.id}#${index}`
    this.seq = batch.seq
    this.subject = batch.subject
    this.deliveryCount = batch.deliveryCount
  }

  header(name: string): string | undefined {
    return this.headers ? this.headers[name] : this.batch.header(name)
  }

  async ack(): Promise<void> {
    this.settledAs ??= 'ack'
  }

  async nak(delayMs = 0): Promise<void> {
    if (this.settledAs) return
    this.settledAs = 'nak'
    this.nakDelayMs = Math.max(0, delayMs)
  }

  async term(): Promise<void> {
    this.settledAs ??= 'term'
  }

  inProgress(): Promise<void> {
    return this.settledAs ? Promise.resolve() : this.batch.inProgress()
  }
}
