import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createGroupCommitter } from '../../../src/lib/group-commit.ts'

describe('group commit with weighted items', () => {
  it('a group holds at most maxBatch weight, and an item heavier than that goes alone', async () => {
    const groups: number[][] = []
    const committer = createGroupCommitter<number, number>({
      maxBatch: 10,
      concurrency: 1,
      weigh: (n) => n,
      run: async (items) => {
        groups.push(items)
        return items
      },
    })
    const out = await Promise.all([3, 4, 2, 25, 1, 9, 1].map((n) => committer.submit(n)))
    assert.deepEqual(out, [3, 4, 2, 25, 1, 9, 1])
    for (const g of groups) {
      const w = g.reduce((s, n) => s + n, 0)
      assert.ok(w <= 10 || g.length === 1, JSON.stringify(groups))
    }
    assert.deepEqual(groups.flat(), [3, 4, 2, 25, 1, 9, 1])
    assert.ok(groups.some((g) => g.length === 1 && g[0] === 25))
  })
})
