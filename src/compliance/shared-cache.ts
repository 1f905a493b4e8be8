// Changes to opt-out lists and numbers reach every process's compliance cache at once over the
// bus (a broadcast, as key evictions: src/accounts/shared-key-cache.ts). A lost broadcast is
// repaired by the cache's background re-read.

import type { Bus } from '../bus/bus.ts'
import { COMPLIANCE_CHANGES } from '../bus/subjects.ts'
import type { ComplianceCache } from './compliance-cache.ts'

type Change = { customerId: string; phone: string; active: boolean } | { customerId: string; numbers: true }

/** Where opt-out and number changes are announced: the local cache, and every other process. */
export interface ComplianceChanges {
  optOutChanged(customerId: string, phone: string, active: boolean): void
  numbersChanged(customerId: string): void
}

export interface SharedComplianceCache extends ComplianceCache {
  stop(): Promise<void>
}

export async function shareComplianceChanges(
  cache: ComplianceCache,
  bus: Pick<Bus, 'broadcast' | 'subscribe'>,
  onError: (err: Error) => void,
): Promise<SharedComplianceCache> {
  const apply = (c: Change) => {
    if (typeof c?.customerId !== 'string') return
    if ('numbers' in c) cache.numbersChanged(c.customerId)
    else if (typeof c.phone === 'string') cache.optOutChanged(c.customerId, c.phone, c.active === true)
  }
  const sub = await bus.subscribe<Change>(COMPLIANCE_CHANGES, (m) => apply(m.data))
  const tell = (c: Change) => {
    apply(c)
    bus.broadcast(COMPLIANCE_CHANGES, c).catch((err: Error) => onError(err))
  }
  return {
    get: (c) => cache.get(c),
    optOutChanged: (customerId, phone, active) => tell({ customerId, phone, active }),
    numbersChanged: (customerId) => tell({ customerId, numbers: true }),
    clear: () => cache.clear(),
    size: () => cache.size(),
    stop: () => sub.stop(),
  }
}
