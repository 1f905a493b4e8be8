/** One bus consumer on a JetStream durable: a pull loop feeding a bounded set of handlers. */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
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

/** Fetch endings that are not worth an error report (reconnects, the broker restarting). */
const ROUTINE = ['disconnect', 'closed', 'connection']
const RESTART_BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000]
const FETCH_EXPIRES_MS = 1000

export async function startNatsConsumer<T>(a: NatsConsumerArgs<T>): Promise<Consumer> {
  const o = a.options
  const pull = await a.js.consumers.get(a.stream, o.durable)
  const inFlight = createInFlight(o.concurrency)
  const handle = { durable: o.durable, handler: o.handler, errorDelayMs: o.errorDelayMs, onError: a.onError }
  let stopping = false
  let wake = () => {}
  let stop = () => {}
  const stopped = new Promise<void>((r) => {
    stop = r
  })

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
        headers: m.headers,
      },
      {
        ack: () => m.ack(),
        nak: (delayMs) => m.nak(delayMs > 0 ? delayMs : undefined),
        term: () => m.term(),
        inProgress: () => m.working(),
      },
    )
  }

  // Bounded pulls (fetch), not an open-ended consume: a fetch ends by itself within FETCH_EXPIRES_MS,
  // so a stopping consumer waits for it and hands back (nak) everything it brought. With consume,
  // messages the server had already sent towards a closed subscription stayed invisible for the
  // whole ack wait (two minutes for the lanes) after a graceful stop.
  // The loop rides out disconnects and server restarts: a failed fetch is reported and retried
  // with backoff, so a consumer never silently dies.
  const loop = async () => {
    let failures = 0
    while (!stopping) {
      try {
        if (inFlight.full) await Promise.race([inFlight.whenFree(), stopped])
        if (stopping) break
        const batch = await pull.fetch({
          max_messages: o.concurrency - inFlight.size,
          expires: FETCH_EXPIRES_MS,
        })
        // A pull the broker forgot (it restarted meanwhile) never ends by itself: end it here.
        const overdue = setTimeout(() => void batch.close(), FETCH_EXPIRES_MS + 2000)
        try {
          for await (const m of batch) {
            // Fetched but not started: hand it straight back so another consumer can take it.
            if (stopping) {
              m.nak()
              continue
            }
            const d = toDelivery(m)
            if (d) inFlight.start(handleDelivery(d, handle))
          }
        } finally {
          clearTimeout(overdue)
        }
        failures = 0
        continue
      } catch (err) {
        if (stopping) break
        const status = (err as { name?: string; message?: string })?.message ?? ''
        if (!ROUTINE.some((r) => status.includes(r)))
          a.onError(new BusConsumerError(`durable ${o.durable} pull failed`, { cause: err }))
      }
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
      stop()
      await running
      await inFlight.whenIdle()
    },
  }
}
