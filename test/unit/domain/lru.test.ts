import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createLru } from '../../../src/domain/lru.ts'

it('drops the least recently used entry when full; a read counts as a use', () => {
  const lru = createLru<string, number>(3)
  lru.set('a', 1)
  lru.set('b', 2)
  lru.set('c', 3)
  assert.equal(lru.get('a'), 1)
  lru.set('d', 4)
  assert.deepEqual([...lru.entries()].map(([k]) => k).sort(), ['a', 'c', 'd'])
  lru.set('c', 30)
  lru.set('e', 5)
  assert.equal(lru.get('a'), undefined)
  assert.equal(lru.get('c'), 30)
  assert.equal(lru.size, 3)
  assert.throws(() => createLru(0), RangeError)
})
