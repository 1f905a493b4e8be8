// The live line on stderr: on a terminal rewritten in place every second (plain ASCII, a carriage
// return, no escape codes), otherwise one line every 5 s so a log file stays readable.
import type { Tick } from './driver.ts'
import { percentiles } from './stats.ts'

export interface ProgressView {
  elapsedS: number
  totalS: number
  offeredPerS: number
  acceptedPerS: number
  /** null when the server's metrics do not say. */
  deliveredPerS: number | null
  acceptP50Ms: number | null
  acceptP99Ms: number | null
  errors: Readonly<Record<string, number>>
  outstanding: number
}

const BAR = 20

export function formatProgress(v: ProgressView, bar: boolean): string {
  const done = Math.min(1, v.totalS > 0 ? v.elapsedS / v.totalS : 1)
  const filled = Math.round(done * BAR)
  const ms = (x: number | null) => (x === null ? '-' : x < 10 ? x.toFixed(1) : x.toFixed(0))
  const errs = Object.entries(v.errors)
    .filter(([, n]) => n > 0)
    .map(([code, n]) => `${code}x${n}`)
  return [
    bar ? `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}]` : '',
    `${Math.floor(v.elapsedS)}/${v.totalS} s`,
    `offered ${Math.round(v.offeredPerS)}/s`,
    `accepted ${Math.round(v.acceptedPerS)}/s`,
    `delivered ${v.deliveredPerS === null ? '-' : Math.round(v.deliveredPerS)}/s`,
    `accept p50 ${ms(v.acceptP50Ms)} ms p99 ${ms(v.acceptP99Ms)} ms`,
    `errors ${errs.length ? errs.join(' ') : '0'}`,
    `waiting ${v.outstanding}`,
  ]
    .filter(Boolean)
    .join('  ')
}

export interface Progress {
  tick(t: Tick): void
  /** Ends the in-place line. */
  done(): void
}

/** Delivered messages so far, from the server's /metrics (smsgw_receipts_total{status="delivered"}). */
export async function scrapeDelivered(url: string): Promise<number | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })
    const text = await res.text()
    const m = /^smsgw_receipts_total\{status="delivered"\} (\d+(?:\.\d+)?)/m.exec(text)
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

export function makeProgress(opts: {
  totalS: number
  stream: NodeJS.WriteStream
  /** Reads the delivered counter; polled once a second. */
  delivered: () => Promise<number | null>
}): Progress {
  const tty = opts.stream.isTTY === true
  const everyS = tty ? 1 : 5
  let offered = 0
  let accepted = 0
  let latencies: number[] = []
  let since = 0
  let lastLine = 0
  let deliveredSamples: { at: number; n: number }[] = []
  const poll = setInterval(() => {
    void opts.delivered().then((n) => {
      if (n === null) return
      deliveredSamples.push({ at: performance.now(), n })
      deliveredSamples = deliveredSamples.slice(-2 * everyS - 1)
    })
  }, 1000)
  const deliveredRate = () => {
    const first = deliveredSamples[Math.max(0, deliveredSamples.length - 1 - everyS)]
    const last = deliveredSamples.at(-1)
    if (!first || !last || last.at === first.at) return null
    return ((last.n - first.n) * 1000) / (last.at - first.at)
  }
  return {
    tick(t) {
      offered += t.offered
      accepted += t.accepted
      latencies = latencies.concat(t.latenciesMs)
      if (t.elapsedS - since < everyS - 0.01) return
      const seconds = t.elapsedS - since
      const p = latencies.length > 0 ? percentiles(latencies) : null
      const line = formatProgress(
        {
          elapsedS: t.elapsedS,
          totalS: opts.totalS,
          offeredPerS: offered / seconds,
          acceptedPerS: accepted / seconds,
          deliveredPerS: deliveredRate(),
          acceptP50Ms: p?.p50 ?? null,
          acceptP99Ms: p?.p99 ?? null,
          errors: t.errors,
          outstanding: t.outstanding,
        },
        tty,
      )
      if (tty) opts.stream.write(`\r${line.padEnd(lastLine)}`)
      else opts.stream.write(`${line}\n`)
      lastLine = line.length
      offered = 0
      accepted = 0
      latencies = []
      since = t.elapsedS
    },
    done() {
      clearInterval(poll)
      if (tty && lastLine > 0) opts.stream.write('\n')
    },
  }
}
