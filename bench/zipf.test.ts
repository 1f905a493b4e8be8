import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makeZipf, searchCdf, zipfCdf } from './zipf.ts'

test('cdf is increasing and ends at exactly 1', () => {
  const cdf = zipfCdf(1000, 1.1)
  for (let i = 1; i < cdf.length; i++) assert.ok(cdf[i]! > cdf[i - 1]!)
  assert.equal(cdf[cdf.length - 1], 1)
})

test('search maps the CDF edges to the right ranks', () => {
  const cdf = Float64Array.from([0.5, 0.75, 1])
  assert.equal(searchCdf(cdf, 0), 0)
  assert.equal(searchCdf(cdf, 0.4999), 0)
  assert.equal(searchCdf(cdf, 0.5), 1)
  assert.equal(searchCdf(cdf, 0.9999), 2)
})

test('s = 1 over 2 ranks gives 2/3 : 1/3', () => {
  const z = makeZipf(2, 1)
  assert.ok(Math.abs(z.topShare(1) - 2 / 3) < 1e-12)
})

test('sampled frequencies follow the distribution', () => {
  let seed = 42
  // Deterministic LCG so the test never flakes.
  const random = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
  const z = makeZipf(10_000, 1.1, random)
  const draws = 200_000
  let top1 = 0
  let top10 = 0
  for (let i = 0; i < draws; i++) {
    const r = z.sample()
    assert.ok(r >= 0 && r < 10_000)
    if (r === 0) top1++
    if (r < 10) top10++
  }
  assert.ok(Math.abs(top1 / draws - z.topShare(1)) < 0.005)
  assert.ok(Math.abs(top10 / draws - z.topShare(10)) < 0.005)
})
