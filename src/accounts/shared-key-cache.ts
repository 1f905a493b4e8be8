import type { Bus } from '../bus/bus.ts'
import { KEY_EVICTIONS } from '../bus/subjects.ts'
import type { KeyCache } from './key-cache.ts'

type Eviction = { keyId: string } | { customerId: string }

export interface SharedKeyCache extends KeyCache {
  /** Stops listening to other processes' evictions. */
  stop(): Promise<void>
}

/**
 * A key cache whose evictions reach every api process on the bus at once, instead of after
 * SMSGW_AUTH_CACHE_MS. The broadcast is a hint: if it is lost (broker down), the other processes
 * still drop the key when its cache entry expires.
 */
export async function shareKeyEvictions(
  keys: KeyCache,
  bus: Pick<Bus, 'broadcast' | 'subscribe'>,
  onError: (err: Error) => void,
): Promise<SharedKeyCache> {
  const apply = (e: Eviction) => {
    if ('keyId' in e && typeof e.keyId === 'string') keys.evictKey(e.keyId)
    else if ('customerId' in e && typeof e.customerId === 'string') keys.evictCustomer(e.customerId)
  }
  const sub = await bus.subscribe<Eviction>(KEY_EVICTIONS, (m) => apply(m.data))
  const tell = (e: Eviction) => {
    apply(e)
    bus.broadcast(KEY_EVICTIONS, e).catch((err: Error) => onError(err))
  }
  return {
    lookup: (secret) => keys.lookup(secret),
    evictKey: (keyId) => tell({ keyId }),
    evictCustomer: (customerId) => tell({ customerId }),
    clear: () => keys.clear(),
    size: () => keys.size(),
    stop: () => sub.stop(),
  }
}
