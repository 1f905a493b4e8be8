// The address guard of webhooks: IPv6 forms that reach a forbidden IPv4 host, deprecated and
// translation ranges, and cloud platform addresses are refused; ordinary public addresses are not.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { forbiddenAddress } from '../../../src/events/webhook-address.ts'

const strict = { allowInsecure: false }
const insecure = { allowInsecure: true }

describe('webhook address guard', () => {
  const always: [string, string][] = [
    ['::8.8.8.8', 'IPv4-compatible (::/96)'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::ffff:0:808:808', 'SIIT (::ffff:0:0:0/96)'],
    ['::ffff:0:10.0.0.1', 'SIIT, dotted'],
    ['64:ff9b:1::a00:1', 'local-use NAT64 (64:ff9b:1::/48)'],
    ['2002:a9fe:a9fe::1', '6to4 of 169.254.169.254'],
    ['fec0::1', 'site-local (fec0::/10)'],
    ['feff::1', 'site-local, top of the range'],
    ['168.63.129.16', 'Azure wire server'],
    ['::ffff:168.63.129.16', 'Azure wire server, IPv4-mapped'],
  ]
  for (const [address, what] of always) {
    it(`refuses ${address} (${what}), even when insecure webhooks are allowed`, () => {
      assert.ok(forbiddenAddress(address, strict), 'strict')
      assert.ok(forbiddenAddress(address, insecure), 'insecure')
    })
  }

  it('decodes 6to4 and NAT64 to the IPv4 they reach: private is refused unless insecure', () => {
    for (const address of ['2002:7f00:1::1', '2002:a00:1::', '64:ff9b::10.0.0.1', '::ffff:7f00:1']) {
      assert.match(forbiddenAddress(address, strict) ?? '', /loopback or private/, address)
      assert.equal(forbiddenAddress(address, insecure), undefined, address)
    }
  })

  it('allows public addresses, also behind 6to4 and NAT64, and ::1 only when insecure', () => {
    for (const address of ['8.8.8.8', '2606:4700::1111', '2002:808:808::1', '64:ff9b::8.8.8.8']) {
      assert.equal(forbiddenAddress(address, strict), undefined, address)
    }
    assert.match(forbiddenAddress('::1', strict) ?? '', /loopback/)
    assert.equal(forbiddenAddress('::1', insecure), undefined)
  })
})
