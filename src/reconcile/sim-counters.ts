// The carrier simulators' own view of invariant 4: what reached a carrier more than once, whether
// the database recorded it or not.

import { type Problem, SAMPLES } from './check.ts'

/**
 * What reconcile reads of a simulator's `GET /counters` (its HTTP contract, not its code: the
 * reconciler checks simulators in other processes, and never imports one).
 */
export interface SimCounters {
  /** Message ids accepted more than once, with how many times. */
  duplicates: Record<string, number>
  uniqueMessageIds: number
}

export interface SimReading {
  url: string
  counters?: SimCounters
  error?: string
}

/** GET <url>/counters of each simulator; an unreachable one is reported, not thrown. */
export async function readSims(urls: string[], timeoutMs = 5000): Promise<SimReading[]> {
  return Promise.all(
    urls.map(async (url): Promise<SimReading> => {
      const at = `${url.replace(/\/+$/, '')}/counters`
      try {
        const res = await fetch(at, { signal: AbortSignal.timeout(timeoutMs) })
        if (!res.ok) return { url, error: `GET ${at}: HTTP ${res.status}` }
        const body = (await res.json()) as Partial<SimCounters>
        if (typeof body.duplicates !== 'object' || body.duplicates === null)
          return { url, error: `GET ${at}: no duplicates in the answer` }
        return {
          url,
          counters: { duplicates: body.duplicates, uniqueMessageIds: Number(body.uniqueMessageIds) },
        }
      } catch (err) {
        return { url, error: `GET ${at}: ${err instanceof Error ? err.message : String(err)}` }
      }
    }),
  )
}

/** Message ids a simulator accepted more than once, and simulators whose counters could not be read. */
export function simProblems(readings: SimReading[]): Problem[] {
  return readings.flatMap((r): Problem[] => {
    if (!r.counters) return [{ problem: `simulators unreadable (${r.error})`, n: 1, samples: [r.url] }]
    const ids = Object.keys(r.counters.duplicates)
    return ids.length === 0
      ? []
      : [
          {
            problem: `messages accepted more than once by ${r.url}`,
            n: ids.length,
            samples: ids.slice(0, SAMPLES),
          },
        ]
  })
}

export function describeSims(readings: SimReading[]): string {
  if (readings.length === 0) return 'simulators not read (no --sim)'
  return readings
    .map((r) =>
      r.counters
        ? `${r.url}: ${r.counters.uniqueMessageIds} ids accepted, ${Object.keys(r.counters.duplicates).length} more than once`
        : `${r.url}: unreadable`,
    )
    .join(', ')
}
