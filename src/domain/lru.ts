import { LRUCache } from 'lru-cache'

/**
 * A bounded map that drops its least recently used entry when full. Backed by `lru-cache`: a
 * Map re-inserted on every hit (the first version here) churns V8's hash table — with 10,000 keys
 * cached and one hot customer it cost 11 % of the api's CPU (accept bench, hot after zipf).
 */
export interface Lru<K, V> {
  get(key: K): V | undefined
  set(key: K, value: V): void
  delete(key: K): void
  clear(): void
  /** Entries, most recently used first. */
  entries(): IterableIterator<[K, V]>
  readonly size: number
}

export function createLru<K extends {}, V extends {}>(maxEntries: number): Lru<K, V> {
  if (!(maxEntries >= 1)) throw new RangeError(`maxEntries must be >= 1, got ${maxEntries}`)
  const cache = new LRUCache<K, V>({ max: maxEntries })
  return {
    get: (key) => cache.get(key),
    set: (key, value) => {
      cache.set(key, value)
    },
    delete: (key) => {
      cache.delete(key)
    },
    clear: () => cache.clear(),
    entries: () => cache.entries() as IterableIterator<[K, V]>,
    get size() {
      return cache.size
    },
  }
}
