// What each benchmark request looks like: which tenant sends it (Authorization) and what it sends
// (body). Autocannon calls `next()` through `setupRequest` once per request.
import type { Zipf } from './zipf.ts'

export interface RequestParts {
  headers: Record<string, string>
  body: Buffer
}

export interface Generator {
  next(): RequestParts
  /** Requests built per customer index, to check the skew that was actually sent. */
  hits: Uint32Array
}

export function makeGenerator(
  apiKeys: readonly string[],
  pickCustomer: () => number,
  payloads: readonly Buffer[],
): Generator {
  if (apiKeys.length === 0 || payloads.length === 0) throw new Error('generator needs keys and payloads')
  // Header values are built once: string concatenation per request is load-generator CPU
  // taken away from the server on a shared machine.
  const auth = apiKeys.map((key) => `Bearer ${key}`)
  const hits = new Uint32Array(apiKeys.length)
  return {
    hits,
    next() {
      const c = pickCustomer()
      hits[c]!++
      return {
        headers: { authorization: auth[c]!, 'content-type': 'application/json' },
        body: payloads[Math.floor(Math.random() * payloads.length)]!,
      }
    },
  }
}

export const zipfPicker = (zipf: Zipf) => () => zipf.sample()
export const hotPicker = () => () => 0

/** Share of requests that went to the `k` busiest customers. */
export function observedTopShare(hits: Uint32Array, k: number): number {
  const sorted = Array.from(hits).sort((a, b) => b - a)
  const total = sorted.reduce((a, b) => a + b, 0)
  if (total === 0) return 0
  return sorted.slice(0, k).reduce((a, b) => a + b, 0) / total
}

export function distinctCustomers(hits: Uint32Array): number {
  let n = 0
  for (const h of hits) if (h > 0) n++
  return n
}
