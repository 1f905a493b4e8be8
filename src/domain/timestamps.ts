// One rule for every timestamp a client may send (send_at, created_after, ids' embedded time…):
// RFC 3339 with an explicit offset, a real calendar instant, and inside the range that both
// JavaScript and PostgreSQL hold exactly. Anything else is rejected before it reaches the database.

/** 1970-01-01T00:00:00Z: UUIDv7 time cannot be earlier, and nothing in smsgw predates it. */
export const MIN_TIMESTAMP_MS = 0
/** 9999-12-31T23:59:59.999Z: the last instant with a four-digit year (PostgreSQL has no year 0). */
export const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/

export const isTimestampInRange = (ms: number): boolean =>
  Number.isFinite(ms) && ms >= MIN_TIMESTAMP_MS && ms <= MAX_TIMESTAMP_MS

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp, or null when it is not one, names a day
 * or time that does not exist (Feb 30, 24:00, a leap second — JavaScript and PostgreSQL disagree
 * about those) or lies outside 1970..9999.
 */
export function parseTimestamp(s: unknown): number | null {
  if (typeof s !== 'string') return null
  const m = RFC3339.exec(s)
  if (!m) return null
  const [, y, mo, d, h, mi, sec, , , , oh, om] = m.map(Number) as number[]
  if (mo === undefined || d === undefined || h === undefined || mi === undefined || sec === undefined)
    return null
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return null
  if (d > new Date(Date.UTC(y ?? 0, mo, 0)).getUTCDate()) return null
  if (m[8] !== 'Z' && m[8] !== 'z' && ((oh ?? 0) > 23 || (om ?? 0) > 59)) return null
  const ms = Date.parse(s.replace(' ', 'T'))
  return isTimestampInRange(ms) ? ms : null
}
