// Mobile-originated traffic from the simulator: a steady rate of MO messages from subscribers to
// our numbers (over SMPP deliver_sm, HTTP, or both), with bodies that include compliance keywords
// and multipart UCS-2 text; and auto-replies from the recipients of submits sent from a number.

import type { MoConcat } from './smpp-pdus.ts'

export type MoVia = 'smpp' | 'http' | 'mixed'

export interface MoTrafficOptions {
  /** MO messages per second. */
  ratePerSec: number
  /** Our numbers the MO is addressed to (E.164 long codes or short codes). */
  to: string[]
  /** Subscribers sending it. Default: 100 numbers +1415555 0000..0099. */
  from?: string[]
  /** Bodies, chosen at random. Default DEFAULT_MO_BODIES. */
  bodies?: string[]
  /** Default smpp. */
  via?: MoVia
  /** How a long SMPP MO travels. Default udh. */
  concat?: MoConcat
  random?: () => number
}

/** A mix with every case a two-way gateway must handle. */
export const DEFAULT_MO_BODIES = [
  'Hi there',
  'STOP',
  'START',
  'HELP',
  `Привет! ${'Это длинное сообщение в несколько частей. '.repeat(4)}`.trim(),
]

export interface MoTraffic {
  stats(): { sent: number; failed: number; inFlight: number }
  /** Stops and waits for the messages in flight. */
  stop(): Promise<void>
}

type Send = (
  m: { from: string; to: string; body: string },
  via: 'smpp' | 'http',
  concat: MoConcat,
) => Promise<void>

const TICK_MS = 50
const MAX_IN_FLIGHT = 1000

export function startMoTraffic(send: Send, o: MoTrafficOptions, onError: (err: unknown) => void): MoTraffic {
  if (!(o.ratePerSec > 0)) throw new RangeError('ratePerSec must be > 0')
  if (o.to.length === 0) throw new RangeError('MO traffic needs at least one number to send to')
  const random = o.random ?? Math.random
  const from = o.from?.length
    ? o.from
    : Array.from({ length: 100 }, (_, i) => `+1415555${String(i).padStart(4, '0')}`)
  const bodies = o.bodies?.length ? o.bodies : DEFAULT_MO_BODIES
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)] as T
  let sent = 0
  let failed = 0
  let credit = 0
  const inFlight = new Set<Promise<void>>()
  let last = Date.now()
  const timer = setInterval(() => {
    const now = Date.now()
    credit = Math.min(credit + ((now - last) / 1000) * o.ratePerSec, o.ratePerSec)
    last = now
    while (credit >= 1 && inFlight.size < MAX_IN_FLIGHT) {
      credit--
      const via = o.via === 'mixed' ? (random() < 0.5 ? 'smpp' : 'http') : (o.via ?? 'smpp')
      const p = send({ from: pick(from), to: pick(o.to), body: pick(bodies) }, via, o.concat ?? 'udh').then(
        () => {
          sent++
        },
        (err: unknown) => {
          failed++
          onError(err)
        },
      )
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
    }
  }, TICK_MS)
  return {
    stats: () => ({ sent, failed, inFlight: inFlight.size }),
    async stop() {
      clearInterval(timer)
      await Promise.all(inFlight)
    },
  }
}
