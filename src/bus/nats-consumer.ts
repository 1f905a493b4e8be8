/** One bus consumer on a JetStream durable: a pull loop feeding a bounded set of handlers. */
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream'
import type { BusErrorHandler, Consumer, ResolvedConsumeOptions } from './bus.ts'
import { decodePayload } from './codec.ts'
import { createDelivery, type Delivery, handleDelivery } from './delivery.ts'
import { BusConsumerError } from './errors.ts'
import { createInFlight } from './in-flight.ts'

export interface NatsConsumerArgs<T> {
  js: JetStreamClient
  stream: string
  options: ResolvedConsumeOptions<T>
  /** Wire subject → the subject callers use (strips the test/environment prefix). */
  logical: (wire: string) => string
  onError: BusErrorHandler
}

/** Statuses that mean the consumer cannot get messages until someone acts; the rest are routine. */
const ALARMING = new Set(['consumer_deleted', 'consumer_not_found', 'stream_not_found', 'exceeded_limits'])
const RESTART_BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000]

export async function startNatsConsumer<T>(a: NatsConsumerArgs<T>): Promise<Consumer> {
  const o = a.options
  const pull = await a.js.consumers.get(a.stream, o.durable)
  const inFlight = createInFlight(o.concurrency)
  const handle = { durable: o.durable, handler: o.handler, errorDelayMs: o.errorDelayMs, onError: a.onError }
  let stopping = false
  let messages: ConsumerMessages | undefined
  let wake = () => {}

  const toDelivery = (m: JsMsg): Delivery<T> | undefined => {
    let data: T
    try {
      data = decodePayload<T>(m.data)
    } catch (err) {
      // No handler can ever succeed on it: terminate rather than redeliver forever.
      m.term()
      a.onError(
        new BusConsumerError(`terminated undecodable message ${m.seq} on ${m.subject}`, { cause: err }),
      )
      return undefined
    }
    return createDelivery(
      {
        id: m.headers?.get('Nats-Msg-Id') || `seq:${m.seq}`,
        seq: m.seq,
        subject: a.logical(m.subject),
        data,
        deliveryCount: m.info.deliveryCount,
      },
      {
        ack: () => m.ack(),
        nak: (delayMs) => m.nak(delayMs > 0 ? delayMs : undefined),
        term: () => m.term(),
        inProgress: () => m.working(),
      },
    )
  }

  const watch = async (iter: ConsumerMessages) => {
    for await (const s of iter.status()) {
      if (ALARMING.has(s.type)) {
        a.onError(new BusConsumerError(`durable ${o.durable}: ${s.type} ${JSON.stringify(s)}`))
      }
    }
  }

  // consume() rides out disconnects and server restarts itself; this loop only restarts it if
  // the iterator ends or fails for another reason, so a consumer never silently dies.
  const loop = async () => {
    let failures = 0
    while (!stopping) {
      try {
        const iter = await pull.consume({ max_messages: o.concurrency })
        messages = iter
        void watch(iter).catch(a.onError)
        if (stopping) await iter.close()
        for await (const m of iter) {
          if (!stopping && inFlight.full) await inFlight.whenFree()
          // Fetched but not started: hand it straight back so another consumer can take it.
          if (stopping) {
            m.nak()
            continue
          }
          const d = toDelivery(m)
          if (d) inFlight.start(handleDelivery(d, handle))
          failures = 0
        }
      } catch (err) {
        if (!stopping) a.onError(new BusConsumerError(`durable ${o.durable} pull failed`, { cause: err }))
      }
      if (stopping) break
      const ms = RESTART_BACKOFF_MS[Math.min(failures++, RESTART_BACKOFF_MS.length - 1)]
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms)
        wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
  }
  const running = loop()

  return {
    async stop() {
      stopping = true
      wake()
      await messages?.close()
      await running
      await inFlight.whenIdle()
    },
  }
}
