import type { Db, Queryable } from '../db/db.ts'
import { toMicros } from '../domain/money.ts'

/** Price per segment by destination country (ISO alpha-2), with an optional default. */
export interface RateTable {
  currency: string
  defaultMicros: number | null
  countries: Record<string, number>
}

export async function readRates(q: Queryable, currency: string): Promise<RateTable> {
  const { rows } = await q.query<{ country: string; price_micros: string | number }>(
    'SELECT country, price_micros FROM rates ORDER BY country',
  )
  const table: RateTable = { currency, defaultMicros: null, countries: {} }
  for (const r of rows) {
    if (r.country === '*') table.defaultMicros = toMicros(r.price_micros)
    else table.countries[r.country] = toMicros(r.price_micros)
  }
  return table
}

/** Replaces the whole table atomically (PUT semantics). */
export async function replaceRates(db: Db, table: RateTable): Promise<void> {
  const entries = Object.entries(table.countries)
  if (table.defaultMicros !== null) entries.push(['*', table.defaultMicros])
  await db.transaction(async (tx) => {
    await tx.query('DELETE FROM rates')
    await tx.query(
      `INSERT INTO rates (country, currency, price_micros)
       SELECT country, $3, price FROM unnest($1::text[], $2::bigint[]) AS x(country, price)`,
      [entries.map(([c]) => c), entries.map(([, p]) => String(p)), table.currency],
    )
  })
}

export interface RateCache {
  /** Price per segment for a destination, or undefined when it is not supported. */
  priceFor(country: string): Promise<number | undefined>
  invalidate(): void
}

/** Keeps the rate table in memory; re-reads it after `ttlMs` (other processes may change it). */
export function createRateCache(db: Db, currency: string, ttlMs: number, now = Date.now): RateCache {
  let table: RateTable | undefined
  let loadedAt = 0
  let loading: Promise<RateTable> | undefined
  const load = async () => {
    if (table && now() - loadedAt < ttlMs) return table
    loading ??= readRates(db, currency).finally(() => {
      loading = undefined
    })
    const fresh = await loading
    table = fresh
    loadedAt = now()
    return fresh
  }
  return {
    async priceFor(country) {
      const t = await load()
      return t.countries[country] ?? t.defaultMicros ?? undefined
    },
    invalidate() {
      table = undefined
    },
  }
}
