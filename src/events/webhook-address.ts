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

/** The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address, if any. */
function embeddedIpv4(address: string): string | undefined {
  const m = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (m) return m[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address)
  if (!hex) return undefined
  const hi = Number.parseInt(hex[1] as string, 16)
  const lo = Number.parseInt(hex[2] as string, 16)
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
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
 * credentials, and a literal IP host must be allowed. Returns the reason it is refused, if it is.
 */
export function refuseUrl(raw: string, policy: AddressPolicy): string | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'url is not a valid absolute URL'
  }
  if (url.protocol !== 'https:' && !(policy.allowInsecure && url.protocol === 'http:')) {
    return policy.allowInsecure ? 'url must be http:// or https://' : 'url must be https://'
  }
  if (url.username || url.password) return 'url must not contain credentials'
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) return forbiddenAddress(host, policy)
  if (!policy.allowInsecure && /^localhost\.?$|\.localhost\.?$/i.test(host)) return `${host} is loopback`
  return undefined
}
