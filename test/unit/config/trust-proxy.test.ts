import assert from 'node:assert/strict'
import { it } from 'node:test'
import { ConfigError, loadConfig, trustProxyOf } from '../../../src/config/config.ts'

const trust = (TRUST_PROXY?: string) =>
  trustProxyOf(loadConfig(TRUST_PROXY === undefined ? {} : { TRUST_PROXY }))

it('TRUST_PROXY is off by default and takes a hop count or a CIDR list', () => {
  assert.equal(trust(), false)
  assert.equal(trust('false'), false)
  assert.deepEqual(trust('10.0.0.0/8, 127.0.0.1,::1'), ['10.0.0.0/8', '127.0.0.1', '::1'])
  const hops = trust('2')
  assert.equal(typeof hops, 'function')
  if (typeof hops === 'function')
    assert.deepEqual(
      [0, 1, 2].map((i) => hops('10.0.0.1', i)),
      [true, true, false],
    )
})

it('a malformed TRUST_PROXY fails at start-up, naming the variable', () => {
  // `true` would believe a client's own X-Forwarded-For: any IP allow-list would be bypassed.
  for (const bad of ['true', 'yes', '10.0.0.0/8;rm', 'proxy.example']) {
    assert.throws(
      () => loadConfig({ TRUST_PROXY: bad }),
      (e: Error) => e instanceof ConfigError && /TRUST_PROXY/.test(e.message),
    )
  }
})
