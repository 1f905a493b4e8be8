// Which customer an inbound message belongs to (API.md "Inbound, opt-outs, senders"): the owner
// of a dedicated number, or on a shared short code the customer whose keyword is the first word.
// A compliance word followed by a keyword ("STOP ACME") on a shared code goes to that keyword's
// customer, so a recipient can opt out of one program on a shared code.

import { keywordAction, wordsOf } from '../compliance/keywords.ts'
import type { Queryable } from '../db/db.ts'

export interface Route {
  customerId: string
  /** The matched keyword on a shared short code; null on a dedicated number. */
  keyword: string | null
  /** The number as assigned (E.164 or short code). */
  number: string
}

/** Spellings of a destination address an SMSC may use for one of our numbers. */
export function candidateNumbers(to: string): string[] {
  if (to.startsWith('+')) return [to]
  // A long code delivered with TON unknown/national: also try it as international.
  return /^\d{9,15}$/.test(to) ? [to, `+${to}`] : [to]
}

export async function routeInbound(q: Queryable, to: string, body: string): Promise<Route | undefined> {
  const { rows } = await q.query<{ number: string; keyword: string; customer_id: string }>(
    'SELECT number, keyword, customer_id::text FROM numbers WHERE number = ANY($1::text[])',
    [candidateNumbers(to)],
    { name: 'route_inbound' },
  )
  if (rows.length === 0) return undefined
  const dedicated = rows.find((r) => r.keyword === '')
  if (dedicated) return { customerId: dedicated.customer_id, keyword: null, number: dedicated.number }
  const [first, second] = wordsOf(body, 2)
  const byKeyword = (w: string | undefined) =>
    w === undefined ? undefined : rows.find((r) => r.keyword === w)
  const hit = byKeyword(first) ?? (keywordAction(first) ? byKeyword(second) : undefined)
  return hit ? { customerId: hit.customer_id, keyword: hit.keyword, number: hit.number } : undefined
}
