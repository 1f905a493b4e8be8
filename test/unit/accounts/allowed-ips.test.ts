import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  allowListHas,
  compileAllowList,
  invalidIpEntry,
  parseIpRange,
} from '../../../src/accounts/allowed-ips.ts'

describe('allowed_ips', () => {
  it('parses addresses and CIDR ranges of both families', () => {
    assert.deepEqual(parseIpRange('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' })
    assert.deepEqual(parseIpRange('::1'), { address: '::1', family: 'ipv6' })
    assert.deepEqual(parseIpRange('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' })
  })

  it('refuses what node:net would throw on or read differently', () => {
    for (const bad of [
      '1:2:3',
      '::1::2',
      '999.1.1.1',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.0/',
      '10.0.0.0/-1',
      '10.0.0.0/8/8',
      '',
    ])
      assert.equal(parseIpRange(bad), undefined, bad)
    assert.equal(invalidIpEntry(['127.0.0.1', '1:2:3']), '1:2:3')
    assert.equal(invalidIpEntry(['127.0.0.1']), undefined)
  })

  it('a list with only unreadable entries allows nothing; IPv4-mapped peers match IPv4 ranges', () => {
    assert.equal(allowListHas(compileAllowList(['1:2:3']), '127.0.0.1'), false)
    const list = compileAllowList(['1:2:3', '10.0.0.0/8'])
    assert.equal(allowListHas(list, '::ffff:10.1.2.3'), true)
    assert.equal(allowListHas(list, '11.0.0.1'), false)
    assert.equal(allowListHas(list, 'not an ip'), false)
  })
})
