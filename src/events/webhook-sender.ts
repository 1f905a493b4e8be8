// One HTTP attempt of a webhook: signed per Standard Webhooks (the `standardwebhooks` package),
// over a keep-alive pool per target (endpoint, or callback origin), 10 s to answer, no redirects,
// and a connector that refuses forbidden addresses after DNS resolution, before connecting.

import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns'
import { isIP } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { Agent, buildConnector, request } from 'undici'
import { type AddressPolicy, forbiddenAddress, WebhookAddressError } from './webhook-address.ts'

export interface WebhookTarget {
  /** The target (an endpoint id, or `cb:<customer>`): with the URL's origin, the pool key. */
  key: string
  url: string
}

export interface WebhookPayload {
  /** The event id: `webhook-id`, the same on every attempt. */
  id: string
  /** The raw JSON body, identical on every attempt. */
  body: string
}

export type AttemptOutcome =
  | { kind: 'delivered'; statusCode: number; latencyMs: number }
  | { kind: 'retry'; statusCode?: number; error: string; retryAfterMs?: number; latencyMs: number }
  | { kind: 'final'; statusCode?: number; error: string; latencyMs: number }

export interface WebhookSenderOptions extends AddressPolicy {
  /** Time for the receiver to answer, ms (default 10 000). */
  timeoutMs?: number
  /** Connections per target (default 4). */
  connectionsPerTarget?: number
  /** Pools kept open; the least recently used beyond this are closed (default 1000). */
  maxPools?: number
  /**
   * Called with why a destination was refused (the address a name resolved to): the operator's to
   * log; the attempt itself only says "destination address not allowed", never revealing internal DNS.
   */
  onRefused?: (url: string, detail: string) => void
  /** Called when an address passed the guard and a connection is about to be opened (tests). */
  onConnect?: (address: string) => void
}

export interface WebhookSender {
  send(target: WebhookTarget, payload: WebhookPayload, secrets: string[]): Promise<AttemptOutcome>
  close(): Promise<void>
}

/** `webhook-signature`: one `v1,…` per secret (two during a rotation). */
export function signatureHeader(secrets: string[], id: string, at: Date, body: string): string {
  return secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' ')
}

function guardedLookup(policy: AddressPolicy, onConnect?: (address: string) => void) {
  return (
    hostname: string,
    options: LookupAllOptions | { all?: false },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '')
      for (const a of addresses) {
        const why = forbiddenAddress(a.address, policy)
        if (why) return callback(new WebhookAddressError(`${hostname} resolves to ${why}`), '')
      }
      const first = addresses[0]
      if (!first) return callback(new Error(`${hostname} has no address`), '')
      onConnect?.(first.address)
      if (options.all) return callback(null, addresses)
      callback(null, first.address, first.family)
    })
  }
}

/** undici's connector behind the address guard: IP literals are checked here, names at lookup. */
function guardedConnector(opts: WebhookSenderOptions, timeoutMs: number): buildConnector.connector {
  const base = buildConnector({
    timeout: timeoutMs,
    lookup: guardedLookup(opts, opts.onConnect),
  } as buildConnector.BuildOptions)
  return (o, cb) => {
    const host = o.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) !== 0) {
      const why = forbiddenAddress(host, opts)
      if (why) return cb(new WebhookAddressError(why), null)
      opts.onConnect?.(host)
    }
    return base(o, cb)
  }
}

function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (!v) return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

const errorText = (err: unknown) => {
  const e = err as { code?: string; message?: string; name?: string }
  return [e.code ?? e.name, e.message].filter(Boolean).join(': ').slice(0, 500)
}

/** The attempt error of a refused destination, as stored and shown to the customer. */
export const REFUSED = 'destination address not allowed'

export function createWebhookSender(opts: WebhookSenderOptions): WebhookSender {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const maxPools = opts.maxPools ?? 1000
  const pools = new Map<string, Agent>()

  const pool = (key: string) => {
    const found = pools.get(key)
    if (found) {
      // Map order is insertion order: re-inserting marks it recently used.
      pools.delete(key)
      pools.set(key, found)
      return found
    }
    const agent = new Agent({
      connect: guardedConnector(opts, timeoutMs),
      connections: opts.connectionsPerTarget ?? 4,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 30_000,
      // A receiver may ask to keep an idle socket for longer; we hold it 30 s at most.
      keepAliveMaxTimeout: 30_000,
    })
    pools.set(key, agent)
    if (pools.size > maxPools) {
      const [oldestKey, oldest] = pools.entries().next().value as [string, Agent]
      pools.delete(oldestKey)
      void oldest.close()
    }
    return agent
  }

  return {
    async send(target, payload, secrets) {
      const started = performance.now()
      const latency = () => Math.round(performance.now() - started)
      const at = new Date()
      try {
        const res = await request(target.url, {
          // One pool per target and origin: a customer's many callback hosts are as many pools,
          // which the maxPools LRU bounds (an Agent never drops its per-origin pools itself).
          dispatcher: pool(`${target.key}|${new URL(target.url).origin}`),
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'smsgw-webhooks/1',
            'webhook-id': payload.id,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': signatureHeader(secrets, payload.id, at, payload.body),
          },
          body: payload.body,
          signal: AbortSignal.timeout(timeoutMs),
        })
        // The answer's body is not ours to read; drain a little so the connection is reused.
        await res.body.dump({ limit: 65_536 })
        const code = res.statusCode
        if (code >= 200 && code < 300) return { kind: 'delivered', statusCode: code, latencyMs: latency() }
        if (code === 408 || code === 429 || code >= 500) {
          const wait = retryAfterMs(res.headers['retry-after'])
          return {
            kind: 'retry',
            statusCode: code,
            error: `HTTP ${code}`,
            latencyMs: latency(),
            ...(wait !== undefined ? { retryAfterMs: wait } : {}),
          }
        }
        const what = code >= 300 && code < 400 ? `HTTP ${code} (redirects are not followed)` : `HTTP ${code}`
        return { kind: 'final', statusCode: code, error: what, latencyMs: latency() }
      } catch (err) {
        const forbidden = [err, (err as { cause?: unknown }).cause].find(
          (e) => (e as { code?: unknown } | null)?.code === 'webhook_address_forbidden',
        )
        if (forbidden) {
          opts.onRefused?.(target.url, errorText(forbidden))
          return { kind: 'final', error: REFUSED, latencyMs: latency() }
        }
        return { kind: 'retry', error: errorText(err), latencyMs: latency() }
      }
    },
    async close() {
      const all = [...pools.values()]
      pools.clear()
      await Promise.all(all.map((a) => a.destroy()))
    },
  }
}
