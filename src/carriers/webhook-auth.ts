// Who may call our provider endpoints (POST /v1/providers/{provider}/dlr and /inbound): each HTTP
// carrier signs its webhooks with its `webhook_secret` (Standard Webhooks: HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<raw body>", 5-minute window) and/or calls from `allowed_ips`.
// A carrier with neither is refused unless it says `insecure_webhooks: true`.

import { randomBytes } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { Webhook } from 'standardwebhooks'

export interface WebhookAuthConfig {
  name: string
  type: string
  webhook_secret?: string
  allowed_ips?: string[]
  insecure_webhooks?: boolean
}

/** Why a provider request was refused; the route answers 401 `unauthenticated`. */
export class WebhookAuthError extends Error {
  override readonly name = 'WebhookAuthError'
  readonly code = 'unauthenticated'
}

/** A new Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/** What is wrong with an HTTP carrier's webhook settings, or undefined when they are usable. */
export function webhookAuthProblem(c: WebhookAuthConfig): string | undefined {
  if (c.type !== 'http') return undefined
  if (c.webhook_secret !== undefined) {
    const b64 = c.webhook_secret.replace(/^whsec_/, '')
    let usable = /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && b64.length % 4 === 0
    try {
      if (usable) new Webhook(c.webhook_secret)
    } catch {
      usable = false
    }
    if (!usable || Buffer.from(b64, 'base64').length < 16)
      return 'webhook_secret: must be whsec_ followed by base64 of at least 16 bytes'
  }
  for (const entry of c.allowed_ips ?? []) {
    if (!parseCidr(entry)) return `allowed_ips: ${JSON.stringify(entry)} is not an IP address or CIDR range`
  }
  const secured = c.webhook_secret !== undefined || (c.allowed_ips?.length ?? 0) > 0
  if (!secured && c.insecure_webhooks !== true) {
    return `HTTP carrier ${JSON.stringify(c.name)} needs webhook_secret or allowed_ips for its receipts and inbound webhooks (or "insecure_webhooks": true)`
  }
  return undefined
}

function parseCidr(entry: string): { addr: string; bits?: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [addr = '', bits, extra] = entry.split('/')
  const version = isIP(addr)
  if (version === 0 || extra !== undefined) return undefined
  const family = version === 6 ? 'ipv6' : 'ipv4'
  if (bits === undefined) return { addr, family }
  const n = Number(bits)
  if (!/^\d{1,3}$/.test(bits) || n > (version === 6 ? 128 : 32)) return undefined
  return { addr, bits: n, family }
}

function blockList(entries: string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const c = parseCidr(entry)
    if (!c) continue
    if (c.bits === undefined) list.addAddress(c.addr, c.family)
    else list.addSubnet(c.addr, c.bits, c.family)
  }
  return list
}

interface CarrierAuth {
  webhook?: Webhook
  ips?: BlockList
}

export interface WebhookAuth {
  /** True when `provider` is an HTTP carrier of the carrier file (others are 404). */
  knows(provider: string): boolean
  /** Throws WebhookAuthError when the carrier has `allowed_ips` and `ip` is not among them. */
  checkIp(provider: string, ip: string): void
  /** Throws WebhookAuthError unless the raw body carries a valid, fresh signature (when the carrier has a secret). */
  verify(provider: string, rawBody: string, headers: Record<string, string | string[] | undefined>): void
}

/**
 * The check each provider request passes before its body is trusted. Fails closed: building it
 * throws for an HTTP carrier that has neither a secret nor allowed IPs and does not say
 * `insecure_webhooks: true`, however its config was made.
 */
export function createWebhookAuth(carriers: WebhookAuthConfig[]): WebhookAuth {
  const byName = new Map<string, CarrierAuth>()
  for (const c of carriers) {
    if (c.type !== 'http') continue
    const problem = webhookAuthProblem(c)
    if (problem) throw new Error(`carrier ${c.name}: ${problem}`)
    byName.set(c.name, {
      ...(c.webhook_secret ? { webhook: new Webhook(c.webhook_secret) } : {}),
      ...(c.allowed_ips?.length ? { ips: blockList(c.allowed_ips) } : {}),
    })
  }
  return {
    knows: (provider) => byName.has(provider),
    checkIp(provider, ip) {
      const ips = byName.get(provider)?.ips
      if (!ips) return
      const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip
      if (!ips.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4'))
        throw new WebhookAuthError(`${ip} is not in this provider's allowed_ips`)
    },
    verify(provider, rawBody, headers) {
      const webhook = byName.get(provider)?.webhook
      if (!webhook) return
      const one = (k: string) => {
        const v = headers[k]
        return typeof v === 'string' ? v : ''
      }
      try {
        webhook.verify(
          rawBody,
          {
            'webhook-id': one('webhook-id'),
            'webhook-timestamp': one('webhook-timestamp'),
            'webhook-signature': one('webhook-signature'),
          },
          { jsonParse: false },
        )
      } catch (err) {
        // The library's messages ("Missing required headers", "Message timestamp too old", "No
        // matching signature found") say what was wrong without revealing anything.
        throw new WebhookAuthError(
          `webhook signature rejected: ${err instanceof Error ? err.message : 'invalid'}`,
          { cause: err },
        )
      }
    },
  }
}

/** Standard Webhooks headers for one attempt of a webhook (the simulator and tests sign with it). */
export function signWebhook(
  secret: string,
  id: string,
  body: string,
  at: Date = new Date(),
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  }
}
