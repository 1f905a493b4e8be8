// Time buckets of the usage rollups (UTC) and the UUIDv7 bounds that select a bucket's messages
// through the (customer_id, id) index: a message's id carries its created_at (compose.ts).

export type Granularity = 'minute' | 'hour' | 'day'
export const GRANULARITIES: readonly Granularity[] = ['minute', 'hour', 'day']

export const BUCKET_MS: Record<Granularity, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
}

export const bucketOf = (ms: number, g: Granularity): number => Math.floor(ms / BUCKET_MS[g]) * BUCKET_MS[g]

/** The smallest UUID whose v7 time is `ms`: ids of messages created at or after ms sort at or above it. */
export function uuidFloor(ms: number): string {
  const hex = Math.max(0, ms).toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`
}

/** One (customer, minute) a change touched: the unit the rollups recompute. */
export interface RollupKey {
  customerId: string
  /** Minute start, epoch ms. */
  minute: number
}

export const keyString = (k: RollupKey) => `${k.customerId}/${k.minute}`

/** De-duplicated keys, in (customer, minute) order so concurrent writers lock rows alike. */
export function uniqueKeys(keys: Iterable<RollupKey>): RollupKey[] {
  const m = new Map<string, RollupKey>()
  for (const k of keys) m.set(keyString(k), k)
  return [...m.values()].sort((a, b) =>
    a.customerId === b.customerId ? a.minute - b.minute : a.customerId < b.customerId ? -1 : 1,
  )
}
