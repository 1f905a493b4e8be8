// Usage reconciles with the ledger (issue 13): for each customer and UTC day of message creation,
// the usage rollups' cost equals the charges minus the refunds of that day's messages. Only what
// the rollups claim to cover is compared: a (customer, day) whose ledger moved after the cutoff —
// the last sweep of the rollup role, and no later than FRESH_S seconds ago (rollups are promised
// fresh within a minute) — is left out. Archived days are left out (their messages are gone).
// Both are named in the detail.

import type { Queryable } from '../db/db.ts'
import { checkFrom, findProblems, type ReconcileCheck } from './check.ts'

/** Rollups are promised fresh within this long (API.md "Usage"). */
const FRESH_S = 60
/** The sweep re-reads this far behind its position (rollups.ts sweepAccepted's margin). */
const SWEEP_MARGIN_S = 10
/** The UTC day number (days since 1970-01-01) of a UUIDv7 message id. */
const DAY_OF_ID = `(('x' || translate(left(message_id::text, 13), '-', ''))::bit(48)::bigint / 86400000)`

/** SQL: the message id in `col` is not of an archived day (its message row is gone on purpose). */
export const notArchived = (col: string) =>
  `(${col} IS NULL OR (('x' || translate(left(${col}::text, 13), '-', ''))::bit(48)::bigint / 86400000) NOT IN
     (SELECT (extract(epoch FROM day::timestamp) / 86400)::bigint FROM archived_days WHERE 'messages' = ANY(tables)))`

export async function usageMatchesLedger(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH cut AS (
       SELECT least(now() - interval '${FRESH_S} seconds',
                    (SELECT swept_to - interval '${SWEEP_MARGIN_S} seconds' FROM usage_sweep_position WHERE name = 'accepted')) AS t
     ), l AS (
       SELECT customer_id, ${DAY_OF_ID} AS day, -sum(amount) AS cost, max(created_at) AS last_at
         FROM ledger WHERE message_id IS NOT NULL AND kind IN ('charge', 'refund')
        GROUP BY 1, 2
     ), u AS (
       SELECT customer_id, (extract(epoch FROM bucket) / 86400)::bigint AS day, sum(cost_micros) AS cost
         FROM usage_day GROUP BY 1, 2
     ), a AS (SELECT (extract(epoch FROM day::timestamp) / 86400)::bigint AS day FROM archived_days WHERE 'messages' = ANY(tables))
     SELECT coalesce(l.customer_id, u.customer_id)::text || ' ' ||
              to_char(to_timestamp(coalesce(l.day, u.day) * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS id,
            CASE WHEN u.day IS NULL THEN 'customer-days charged with no usage'
                 WHEN l.day IS NULL THEN 'customer-days with usage and no charges'
                 ELSE 'customer-days whose usage cost ≠ charges − refunds' END AS problem
       FROM l FULL JOIN u ON u.customer_id = l.customer_id AND u.day = l.day
      WHERE coalesce(l.cost, 0) <> coalesce(u.cost, 0)
        AND (l.last_at IS NULL OR l.last_at < (SELECT t FROM cut))
        AND coalesce(l.day, u.day) NOT IN (SELECT day FROM a)`,
  )
  const { rows } = await q.query<{ n: number; first: string | null; last: string | null; cut: Date | null }>(
    `SELECT count(*)::int AS n, min(day)::text AS first, max(day)::text AS last,
            least(now() - interval '${FRESH_S} seconds',
                  (SELECT swept_to - interval '${SWEEP_MARGIN_S} seconds' FROM usage_sweep_position WHERE name = 'accepted')) AS cut
       FROM archived_days WHERE 'messages' = ANY(tables)`,
  )
  const cut = rows[0]?.cut ? `; ledger changes up to ${rows[0].cut.toISOString()} compared` : ''
  const archived = rows[0]?.n
    ? `; ${rows[0].n} archived days skipped (${rows[0].first} … ${rows[0].last})`
    : ''
  const check = checkFrom(
    'usage_matches_ledger',
    problems,
    `usage cost = charges − refunds per customer per day${cut}${archived}`,
  )
  return check.ok
    ? check
    : { ...check, detail: `${check.detail} (smsgw rollups rebuild recomputes a range)${archived}` }
}
