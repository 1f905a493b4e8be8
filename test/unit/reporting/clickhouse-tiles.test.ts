// The report range's tiles (clickhouse-totals.ts): whole days, then whole hours, then minutes,
// covering [from, to) exactly once, in order.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tiles } from '../../../src/reporting/clickhouse-totals.ts'

const M = 60_000
const H = 3_600_000
const D = 86_400_000
const T0 = Date.UTC(2026, 10, 1)

describe('report range tiles', () => {
  it('whole days alone; minutes and hours around them otherwise', () => {
    assert.deepEqual(tiles(T0, T0 + 30 * D), [{ g: 'day', fromMs: T0, toMs: T0 + 30 * D }])
    assert.deepEqual(tiles(T0 + 7 * H + 13 * M, T0 + 3 * D - 2 * H - 41 * M), [
      { g: 'minute', fromMs: T0 + 7 * H + 13 * M, toMs: T0 + 8 * H },
      { g: 'hour', fromMs: T0 + 8 * H, toMs: T0 + D },
      { g: 'day', fromMs: T0 + D, toMs: T0 + 2 * D },
      { g: 'hour', fromMs: T0 + 2 * D, toMs: T0 + 3 * D - 3 * H },
      { g: 'minute', fromMs: T0 + 3 * D - 3 * H, toMs: T0 + 3 * D - 2 * H - 41 * M },
    ])
    assert.deepEqual(tiles(T0 + 5 * M, T0 + 50 * M), [{ g: 'minute', fromMs: T0 + 5 * M, toMs: T0 + 50 * M }])
  })

  it('cover any minute-aligned range exactly, coarsest first in the middle', () => {
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    for (let i = 0; i < 2000; i++) {
      const from = T0 + rand(5 * 1440) * M
      const to = from + (1 + rand(10 * 1440)) * M
      const t = tiles(from, to)
      assert.equal(t[0]?.fromMs, from)
      assert.equal(t.at(-1)?.toMs, to)
      for (let k = 1; k < t.length; k++) assert.equal(t[k]?.fromMs, t[k - 1]?.toMs)
      for (const x of t) {
        const size = x.g === 'day' ? D : x.g === 'hour' ? H : M
        assert.ok(x.fromMs < x.toMs && x.fromMs % size === 0 && x.toMs % size === 0, JSON.stringify(x))
        if (x.g === 'minute') assert.ok(x.toMs - x.fromMs < H || t.length === 1 || x.toMs % H === 0)
      }
      assert.ok(t.filter((x) => x.g === 'day').length <= 1)
      assert.ok(t.length <= 5)
    }
  })
})
