// Opt-outs are honoured: no message was accepted to a number while it was on that customer's
// opt-out list. The send screen reads a per-process cache that hears of a new opt-out over the
// bus within milliseconds; `graceS` after the opt-out began covers that propagation. The
// confirmation sent in reply to STOP goes to the opted-out number by design and is not counted.

import type { Queryable } from '../db/db.ts'
import { checkFrom, findProblems, type ReconcileCheck } from './check.ts'

export async function optOutsHonoured(q: Queryable, opts: { graceS: number }): Promise<ReconcileCheck> {
  // Each opt-out period probes messages_customer_to (customer_id, to_number, id DESC).
  const problems = await findProblems(
    q,
    `SELECT m.id::text AS id, 'accepted while the recipient was opted out' AS problem
       FROM opt_outs o
       JOIN messages m ON m.customer_id = o.customer_id AND m.to_number = o.phone
        AND m.created_at > o.created_at + $1 * interval '1 second'
        AND (o.removed_at IS NULL OR m.created_at < o.removed_at)
      WHERE NOT (m.api_key_id IS NULL AND coalesce(m.client_reference, '') LIKE 'keyword-reply:%')`,
    [opts.graceS],
  )
  return checkFrom(
    'opt_outs_honoured',
    problems,
    `no message accepted to a number on its customer's opt-out list (${opts.graceS} s propagation allowed)`,
  )
}
