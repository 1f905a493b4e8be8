import { v7 } from 'uuid'
import { isTimestampInRange } from './timestamps.ts'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const V7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

// v7 ids are time-ordered, which keeps btree inserts append-mostly and lets ids double as a cursor.
export function newId(): string {
  return v7()
}

/** A UUIDv7 carrying exactly `ms` (the messages of one batch share their creation time). */
export function newIdAt(ms: number): string {
  return v7({ msecs: ms })
}

export function isUuid(s: string): boolean {
  return typeof s === 'string' && UUID_RE.test(s)
}

/**
 * The creation time a UUIDv7 carries, or null when `id` is not a v7 id or its time lies outside
 * the range a timestamp may have (48 bits reach the year 10889; PostgreSQL and the day
 * partitions stop at 9999). Every id that is used to find a partition goes through here.
 */
export function uuidV7Time(id: string): number | null {
  if (typeof id !== 'string' || !V7_RE.test(id)) return null
  // The first 48 bits are unix milliseconds; 48 bits always fit a safe integer.
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
  return isTimestampInRange(ms) ? ms : null
}
