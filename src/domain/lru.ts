/** A bounded map that drops its least recently used entry when full (Map keeps insertion order). */
export interface Lru<K, V> {
  get(key: K): V | undefined
  set(key: K, value: V): void
  delete(key: K): void
  clear(): void
  entries(): IterableIterator<[K, V]>
  readonly size: number
}

export function createLru<K, V>(maxEntries: number): Lru<K, V> {
  if (!(maxEntries >= 1)) throw new RangeError(`maxEntries must be >= 1, got ${maxEntries}`)
  const map = new Map<K, V>()
  return {
    get(key) {
      const v = map.get(key)
      if (v === undefined) return undefined
      // Move to the young end; the oldest entry stays first for eviction.
      map.delete(key)
      map.set(key, v)
      return v
    },
    set(key, value) {
      map.delete(key)
      map.set(key, value)
      if (map.size > maxEntries) {
        const oldest = map.keys().next()
        if (!oldest.done) map.delete(oldest.value)
      }
    },
    delete(key) {
      map.delete(key)
    },
    clear() {
      map.clear()
    },
    entries: () => map.entries(),
    get size() {
      return map.size
    },
  }
}
