import { BlockList, isIP } from 'node:net'

/** One allow-list entry: an IPv4/IPv6 address or CIDR range, as node:net understands it. */
interface IpRange {
  address: string
  prefix?: number
  family: 'ipv4' | 'ipv6'
}

/** Parses an `allowed_ips` entry; undefined when node:net would not accept it. */
export function parseIpRange(entry: string): IpRange | undefined {
  const slash = entry.indexOf('/')
  const address = slash === -1 ? entry : entry.slice(0, slash)
  const bits = slash === -1 ? undefined : entry.slice(slash + 1)
  const version = isIP(address)
  if (version === 0) return undefined
  const family = version === 6 ? 'ipv6' : 'ipv4'
  if (bits === undefined) return { address, family }
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > (version === 6 ? 128 : 32)) return undefined
  return { address, prefix: Number(bits), family }
}

/** The first entry that is not an address or CIDR range, or undefined when all are. */
export const invalidIpEntry = (entries: readonly string[]): string | undefined =>
  entries.find((e) => parseIpRange(e) === undefined)

/**
 * A compiled allow-list. Entries that do not parse (stored before they were validated) allow
 * nothing: a bad entry must neither open the key to everyone nor turn every request into a 500.
 */
export function compileAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const r = parseIpRange(entry)
    if (!r) continue
    if (r.prefix === undefined) list.addAddress(r.address, r.family)
    else list.addSubnet(r.address, r.prefix, r.family)
  }
  return list
}

/** Whether a peer address (IPv4-mapped IPv6 is read as IPv4) is on the list. */
export function allowListHas(list: BlockList, ip: string): boolean {
  const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  const version = isIP(plain)
  if (version === 0) return false
  return list.check(plain, version === 6 ? 'ipv6' : 'ipv4')
}
