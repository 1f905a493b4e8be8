// One HTTP attempt of a webhook: signed per Standard Webhooks (the `standardwebhooks` package),
// over a keep-alive pool per target (endpoint, or callback origin), 10 s to answer, no redirects,
// and a connector that refuses forbidden addresses after DNS resolution, before connecting.

import type { LookupAddress, LookupAllOptions } from 'node:dns'
import { Resolver } from 'node:dns/promises'
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
  /** Connections per target (default 64, as many as the delivery runs at once per target at most). */
  connectionsPerTarget?: number
  /** Pools kept open; the least recently used beyond this are closed (default 1000). */
  maxPools?: number
  /**
   * Called with why a destination was refused (the address a name resolved to): the operator's to
   * log; the attempt itself only says "destination address not allowed", never revealing internal DNS.
   */
  onRefused?: (url: string, detail: string) => void
  /** One DNS query's time to answer, ms; each is tried twice (default 2000). */
  dnsTimeoutMs?: number
  /** DNS lookups in flight at once; more wait their turn (default 64). */
  maxLookups?: number
  /** DNS servers, `host[:port]` (default the system's; tests). */
  dnsServers?: string[]
  /** Called when an address passed the guard and a connection is about to be opened (tests). */
  onConnect?: (address: string) => void
}

export interface WebhookSender {
  send(target: WebhookTarget, payload: WebhookPayload, secrets: string[]): Promise<AttemptOutcome>
  close(): Promise<void>
}

/** `webhook-signature`: one `v1,…` per secret (two during a rotation). */
export function signatureHeader(
  secrets: string[],
  id: string,
  at: Date,
  body: string,
  signer: (secret: string) => Webhook = (secret) => new Webhook(secret),
): string {
  return secrets.map((s) => signer(s).sign(id, at, body)).join(' ')
}

/** Signers by secret: a `Webhook` decodes its secret once, not once per request. */
function createSigners(max = 10_000): (secret: string) => Webhook {
  const signers = new Map<string, Webhook>()
  return (secret) => {
    let w = signers.get(secret)
    if (!w) {
      if (signers.size >= max) signers.clear()
      w = new Webhook(secret)
      signers.set(secret, w)
    }
    return w
  }
}

/** At most `max` at once; the others wait their turn in order. */
function createGate(max: number) {
  let active = 0
  const waiting: (() => void)[] = []
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r))
    active++
    try {
      return await fn()
    } finally {
      active--
      waiting.shift()?.()
    }
  }
}

/**
 * Resolves with c-ares (`dns.promises.Resolver`), with a timeout and a bound on lookups in flight:
 * `dns.lookup` runs on libuv's 4 threads with no timeout, so a few endpoints behind a black-hole
 * DNS server would stall every lookup (and file access) of the process. `localhost` names are
 * loopback by definition (RFC 6761) and answered here.
 */
function createResolve(opts: WebhookSenderOptions) {
  const resolver = new Resolver({ timeout: opts.dnsTimeoutMs ?? 2000, tries: 2 })
  if (opts.dnsServers) resolver.setServers(opts.dnsServers)
  const gate = createGate(opts.maxLookups ?? 64)
  return (hostname: string): Promise<LookupAddress[]> =>
    gate(async () => {
      if (/^localhost\.?$|\.localhost\.?$/i.test(hostname)) {
        return [
          { address: '127.0.0.1', family: 4 },
          { address: '::1', family: 6 },
        ]
      }
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)])
      const addresses = [
        ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
        ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
      ]
      if (addresses.length > 0) return addresses
      throw v4.status === 'rejected' ? v4.reason : new Error(`${hostname} has no address`)
    })
}

function guardedLookup(opts: WebhookSenderOptions) {
  const resolve = createResolve(opts)
  return (
    hostname: string,
    options: LookupAllOptions | { all?: false },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    resolve(hostname).then(
      (addresses) => {
        // Every address is checked: the connection may go to any of them.
        for (const a of addresses) {
          const why = forbiddenAddress(a.address, opts)
          if (why) return callback(new WebhookAddressError(`${hostname} resolves to ${why}`), '')
        }
        const first = addresses[0] as LookupAddress
        opts.onConnect?.(first.address)
        if (options.all) return callback(null, addresses)
        callback(null, first.address, first.family)
      },
      (err: Error) => callback(err, ''),
    )
  }
}

/** undici's connector behind the address guard: IP literals are checked here, names at lookup. */
function guardedConnector(
  opts: WebhookSenderOptions,
  timeoutMs: number,
  lookup: ReturnType<typeof guardedLookup>,
): buildConnector.connector {
  const base = buildConnector({
    timeout: timeoutMs,
    lookup,
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
  // One resolver and one bound on lookups for every pool.
  const lookup = guardedLookup(opts)
  const signer = createSigners()

  const pool = (key: string) => {
    const found = pools.get(key)
    if (found) {
      // Map order is insertion order: re-inserting marks it recently used.
      pools.delete(key)
      pools.set(key, found)
      return found
    }
    const agent = new Agent({
      connect: guardedConnector(opts, timeoutMs, lookup),
      connections: opts.connectionsPerTarget ?? 64,
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
            'webhook-signature': signatureHeader(secrets, payload.id, at, payload.body, signer),
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
