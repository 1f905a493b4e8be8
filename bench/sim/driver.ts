// The open-loop sender: every arrival of the schedule is sent at its time, whether or not earlier
// requests have been answered (a closed loop would slow down with the server and hide its
// queueing). Accept latency is measured from the arrival's scheduled time, so time spent waiting
// for a free connection on this side counts too (no coordinated omission).
import { Pool } from 'undici'
import type { Schedule } from './model.ts'

export interface DriveSpec {
  url: string
  schedule: Schedule
  /** Bearer key per customer index. */
  apiKeys: readonly string[]
  /** The JSON request body of arrival `i`. */
  payload(i: number): string
  connections: number
  /** Arrivals beyond this many unanswered requests are dropped here and counted as `dropped`. */
  maxOutstanding: number
  requestTimeoutMs: number
  signal?: AbortSignal
  /** Called about once a second with the numbers of the second just passed. */
  onTick?(tick: Tick): void
}

export interface Tick {
  elapsedS: number
  offered: number
  accepted: number
  /** Accept latencies (ms) of the 2xx answers that arrived in this second. */
  latenciesMs: number[]
  /** Errors so far by HTTP status or error code. */
  errors: Readonly<Record<string, number>>
  outstanding: number
}

export interface DriveResult {
  /** Epoch ms of the schedule's time 0. */
  startEpochMs: number
  /** Epoch ms of each arrival's 2xx answer; NaN when it was not accepted. */
  acceptedAtMs: Float64Array
  /** Accept latency from the scheduled time, ms; NaN when not accepted. */
  latencyMs: Float64Array
  /** Message id from each 202, by arrival. */
  ids: (string | undefined)[]
  /** Non-2xx answers by status, and failures by code (`dropped`: never sent, too many unanswered). */
  errors: Record<string, number>
  /** How late requests left compared with their schedule (ms): the generator's own lag. */
  sendLagMs: Float64Array
  /** Seconds from time 0 until the last answer came back. */
  elapsedS: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `{"id":"<uuid>",…`: the 202 body starts with the id (fixed key order), no need to parse it all. */
export function idFromAccepted(text: string): string | undefined {
  if (text.startsWith('{"id":"') && text[43] === '"') return text.slice(7, 43)
  try {
    const id = (JSON.parse(text) as { id?: unknown }).id
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}

export async function drive(spec: DriveSpec): Promise<DriveResult> {
  const { schedule } = spec
  const n = schedule.count
  const pool = new Pool(spec.url, { connections: spec.connections, pipelining: 1 })
  const auth = spec.apiKeys.map((k) => `Bearer ${k}`)
  const acceptedAtMs = new Float64Array(n).fill(Number.NaN)
  const latencyMs = new Float64Array(n).fill(Number.NaN)
  const sendLagMs = new Float64Array(n)
  const ids: (string | undefined)[] = new Array(n)
  const errors: Record<string, number> = {}
  const fail = (code: string) => {
    errors[code] = (errors[code] ?? 0) + 1
  }

  const t0 = performance.now()
  const startEpochMs = Date.now()
  let outstanding = 0
  let tickOffered = 0
  let tickAccepted = 0
  let tickLatencies: number[] = []
  let lastAnswer = t0

  const send = (i: number) => {
    const due = t0 + schedule.at[i]! * 1000
    sendLagMs[i] = performance.now() - due
    tickOffered++
    if (outstanding >= spec.maxOutstanding) {
      fail('dropped')
      return
    }
    outstanding++
    pool
      .request({
        path: '/v1/messages',
        method: 'POST',
        headers: { authorization: auth[schedule.customer[i]!]!, 'content-type': 'application/json' },
        body: spec.payload(i),
        headersTimeout: spec.requestTimeoutMs,
        bodyTimeout: spec.requestTimeoutMs,
      })
      .then(async (res) => {
        const text = await res.body.text()
        const now = performance.now()
        lastAnswer = now
        if (res.statusCode >= 200 && res.statusCode < 300) {
          acceptedAtMs[i] = startEpochMs + (now - t0)
          latencyMs[i] = now - due
          ids[i] = idFromAccepted(text)
          tickAccepted++
          tickLatencies.push(now - due)
        } else fail(String(res.statusCode))
      })
      .catch((err: { code?: string }) => {
        lastAnswer = performance.now()
        fail(err.code ?? 'error')
      })
      .finally(() => {
        outstanding--
      })
  }

  const ticker = setInterval(() => {
    spec.onTick?.({
      elapsedS: (performance.now() - t0) / 1000,
      offered: tickOffered,
      accepted: tickAccepted,
      latenciesMs: tickLatencies,
      errors,
      outstanding,
    })
    tickOffered = 0
    tickAccepted = 0
    tickLatencies = []
  }, 1000)
  try {
    let next = 0
    while (next < n && !spec.signal?.aborted) {
      const nowS = (performance.now() - t0) / 1000
      while (next < n && schedule.at[next]! <= nowS) send(next++)
      if (next < n) await sleep(Math.max(1, Math.min(10, (schedule.at[next]! - nowS) * 1000)))
    }
    // Answers still on the way: bounded by the request timeout.
    const deadline = performance.now() + spec.requestTimeoutMs + 5000
    while (outstanding > 0 && performance.now() < deadline) await sleep(20)
  } finally {
    clearInterval(ticker)
    await pool.destroy()
  }
  if (spec.signal?.aborted) throw new Error(`load stopped: ${(spec.signal.reason as Error).message}`)
  return {
    startEpochMs,
    acceptedAtMs,
    latencyMs,
    ids,
    errors,
    sendLagMs,
    elapsedS: (lastAnswer - t0) / 1000,
  }
}
