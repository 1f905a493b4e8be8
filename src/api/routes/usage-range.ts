import { parseTimestamp } from '../../domain/timestamps.ts'
import { BUCKET_MS, bucketOf, type Granularity } from '../../reporting/buckets.ts'
import { invalidRequest } from '../errors.ts'

/** The longest range one request may span, per granularity (bounds the rows one answer reads). */
export const MAX_RANGE_MS: Record<Granularity, number> = {
  minute: 7 * 86_400_000,
  hour: 93 * 86_400_000,
  day: 3660 * 86_400_000,
}

/** Defaults when `from` is absent: the last hour of minutes, day of hours, 30 days. */
const DEFAULT_SPAN_MS: Record<Granularity, number> = {
  minute: 3_600_000,
  hour: 86_400_000,
  day: 30 * 86_400_000,
}

function timestamp(value: string | undefined, param: string): number | undefined {
  if (value === undefined) return undefined
  const t = parseTimestamp(value)
  if (t === null) throw invalidRequest(`'${param}' must be an RFC 3339 date-time`, param)
  return t
}

/**
 * [from, to) of a usage or report request, aligned to whole buckets: `from` rounded down, `to`
 * rounded up (default: now, and a span that depends on the granularity).
 */
export function usageRange(
  q: { from?: string; to?: string },
  g: Granularity,
  now: number,
  limits: { maxMs: number; defaultSpanMs: number } = {
    maxMs: MAX_RANGE_MS[g],
    defaultSpanMs: DEFAULT_SPAN_MS[g],
  },
): { fromMs: number; toMs: number } {
  const to = timestamp(q.to, 'to') ?? now
  const from = timestamp(q.from, 'from') ?? to - limits.defaultSpanMs
  const fromMs = bucketOf(from, g)
  const toMs = Math.ceil(to / BUCKET_MS[g]) * BUCKET_MS[g]
  if (toMs <= fromMs) throw invalidRequest("'from' must be before 'to'", 'from')
  if (toMs - fromMs > limits.maxMs)
    throw invalidRequest(
      `a ${g} range spans at most ${limits.maxMs / 86_400_000} days: narrow from..to or use a coarser granularity`,
      'from',
    )
  return { fromMs, toMs }
}
