// SSRF guard for customer-supplied webhook URLs. The URL is checked when it is saved (scheme,
// literal addresses) and, since DNS can change after that, every address a name resolves to is
// checked again when a connection is opened (webhook-sender.ts), before any packet is sent.

import { BlockList, isIP } from 'node:net'

export class WebhookAddressError extends Error {
  readonly code = 'webhook_address_forbidden'
}

export interface AddressPolicy {
  /** SMSGW_WEBHOOK_ALLOW_INSECURE: http:// and loopback/private addresses allowed (development). */
  allowInsecure: boolean
}

/** Never reachable from a webhook, whatever the operator allows: link-local and cloud metadata. */
const ALWAYS = new BlockList()
ALWAYS.addSubnet('169.254.0.0', 16, 'ipv4') // link-local, AWS/GCP/Azure metadata 169.254.169.254
ALWAYS.addAddress('100.100.100.200', 'ipv4') // Alibaba metadata
ALWAYS.addSubnet('0.0.0.0', 8, 'ipv4')
ALWAYS.addSubnet('224.0.0.0', 3, 'ipv4') // multicast, reserved, broadcast
ALWAYS.addSubnet('fe80::', 10, 'ipv6')
ALWAYS.addSubnet('ff00::', 8, 'ipv6')
ALWAYS.addAddress('::', 'ipv6')
ALWAYS.addAddress('fd00:ec2::254', 'ipv6') // AWS metadata over IPv6
ALWAYS.addAddress('168.63.129.16', 'ipv4') // Azure wire server (platform DNS, health, agent)
ALWAYS.addSubnet('fec0::', 10, 'ipv6') // deprecated site-local
ALWAYS.addSubnet('64:ff9b:1::', 48, 'ipv6') // local-use NAT64: reaches the operator's own IPv4 network
// IPv4-compatible ::/96 (deprecated, never a real receiver) but ::1, which is loopback below.
ALWAYS.addRange('::2', '::ffff:ffff', 'ipv6')
ALWAYS.addSubnet('::ffff:0:0:0', 96, 'ipv6') // SIIT: translated to IPv4 by the network

/** Loopback and private ranges: refused unless the operator allows insecure webhooks. */
const PRIVATE = new BlockList()
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4')
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4')
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4')
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4')
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4') // carrier-grade NAT
PRIVATE.addSubnet('192.0.0.0', 24, 'ipv4')
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4') // benchmarking
PRIVATE.addAddress('::1', 'ipv6')
PRIVATE.addSubnet('fc00::', 7, 'ipv6') // unique local

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 is two), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined
  let text = address.toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const part = (p: string | undefined) => (p ? p.split(':').map((h) => Number.parseInt(h, 16)) : [])
  const hi = part(head)
  const lo = part(tail)
  return tail === undefined ? hi : [...hi, ...Array(8 - hi.length - lo.length).fill(0), ...lo]
}

const zero = (groups: number[]) => groups.every((g) => g === 0)

/**
 * The IPv4 address an IPv6 address stands for, if any: IPv4-mapped (::ffff:0:0/96), NAT64
 * (64:ff9b::/96) and 6to4 (2002::/16, the IPv4 in bits 16-47). They reach that IPv4 host, so its
 * rules apply. (IPv4-compatible, SIIT and local-use NAT64 are refused outright, in ALWAYS.)
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address)
  if (!g) return undefined
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  const [g0 = 0, g1 = 0, g2 = 0, , , g5 = 0, g6 = 0, g7 = 0] = g
  if (g0 === 0x2002) return v4(g1, g2)
  if (zero(g.slice(0, 5)) && g5 === 0xffff) return v4(g6, g7)
  if (g0 === 0x64 && g1 === 0xff9b && zero(g.slice(2, 6))) return v4(g6, g7)
  return undefined
}

/** Why an address may not receive webhooks, or undefined when it may. */
export function forbiddenAddress(address: string, policy: AddressPolicy): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  const v4 = embeddedIpv4(bare)
  const ip = v4 ?? bare
  const family = isIP(ip)
  if (family === 0) return `${address} is not an IP address`
  const type = family === 4 ? 'ipv4' : 'ipv6'
  if (ALWAYS.check(ip, type)) return `${address} is a link-local, metadata or reserved address`
  if (!policy.allowInsecure && PRIVATE.check(ip, type)) return `${address} is a loopback or private address`
  return undefined
}

/**
 * Checks a webhook URL as it is saved: https (http only when insecure webhooks are allowed), no
 * credentials, and a literal IP host must be allowed. Returns the reason it is refused, if it is,
 * naming the field `name` (default `url`).
 */
export function refuseUrl(raw: string, policy: AddressPolicy, name = 'url'): string | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return `${name} is not a valid absolute URL`
  }
  if (url.protocol !== 'https:' && !(policy.allowInsecure && url.protocol === 'http:')) {
    return policy.allowInsecure ? `${name} must be http:// or https://` : `${name} must be https://`
  }
  if (url.username || url.password) return `${name} must not contain credentials`
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) return forbiddenAddress(host, policy)
  if (!policy.allowInsecure && /^localhost\.?$|\.localhost\.?$/i.test(host)) return `${host} is loopback`
  return undefined
}
