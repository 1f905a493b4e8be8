import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBurstReporter } from '../../../src/lib/burst-reporter.ts'
import { waitFor } from '../../helpers/wait.ts'

describe('createBurstReporter', () => {
  it('reports the first event at once and the rest of the burst as one count at its end', async () => {
    const lines: [string, number, number][] = []
    const burst = createBurstReporter<number>((key, count, first) => lines.push([key, count, first]), 50)
    for (let i = 0; i < 500; i++) burst.add('a', i)
    burst.add('b', 7)
    assert.deepEqual(lines, [
      ['a', 1, 0],
      ['b', 1, 7],
    ])
    await waitFor(() => lines.length === 3, 'the end of the burst', 5000, 10)
    assert.deepEqual(lines[2], ['a', 499, 1])
    burst.flush()
    assert.equal(lines.length, 3)
  })

  it('flush reports what is still counted', () => {
    const lines: number[] = []
    const burst = createBurstReporter<string>((_, count) => lines.push(count), 60_000)
    burst.add('k', 'x')
    burst.add('k', 'y')
    burst.add('k', 'z')
    burst.flush()
    assert.deepEqual(lines, [1, 2])
  })
})
