// Invariants 1, 2 and 4 (money side): every balance is the sum of its ledger, never negative,
// reached by an unbroken chain of entries; every accepted message charged exactly once; every
// message no carrier took that ended failed/rejected/expired/canceled refunded exactly once.

import type { Queryable } from '../db/db.ts'
import { REFUNDED_WHEN_UNSENT } from '../domain/status.ts'
import { checkFrom, findProblems, type ReconcileCheck } from './check.ts'
import { notArchived } from './usage-checks.ts'

export async function ledgerMatchesBalance(q: Queryable, customers: number): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `SELECT c.id::text AS id, 'customers whose balance ≠ sum(ledger)' AS problem
       FROM customers c
       LEFT JOIN (SELECT customer_id, sum(amount) AS total FROM ledger GROUP BY customer_id) l
         ON l.customer_id = c.id
      WHERE c.balance <> coalesce(l.total, 0)`,
  )
  return checkFrom('ledger_matches_balance', problems, `sum(ledger) = balance for all ${customers} customers`)
}

export async function noNegativeBalance(q: Queryable): Promise<ReconcileCheck> {
  // The schema's CHECK constraints forbid both; this catches a constraint dropped or bypassed.
  const problems = await findProblems(
    q,
    `SELECT id::text AS id, 'customers with a negative balance' AS problem FROM customers WHERE balance < 0
     UNION ALL
     SELECT customer_id::text, 'customers with a negative balance_after in the ledger'
       FROM ledger WHERE balance_after < 0 GROUP BY customer_id`,
  )
  return checkFrom('no_negative_balance', problems, 'no balance and no balance_after below zero')
}

/**
 * Each entry moves a balance from `balance_after - amount` to `balance_after`; together they must
 * form one path from 0 to the customer's balance. Checked as a multiset (every value is arrived
 * at as often as it is left, but for 0 and the final balance) rather than in id order, because
 * one accept statement may number a group's entries in another order than it applied them.
 * One pass over the ledger, no sort. It cannot see a deleted entry that closed a loop of its own
 * (values no other entry touches) — the balance and charge checks cover the usual deletions.
 */
export async function ledgerChain(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `SELECT customer_id::text AS id, 'customers whose balance_after chain is broken' AS problem
       FROM (
         -- Arrivals count +1, departures -1; the path starts at 0 (+1) and ends at the balance (-1).
         SELECT customer_id, v FROM (
           SELECT l.customer_id, x.v, x.d FROM ledger l
             CROSS JOIN LATERAL (VALUES (l.balance_after, 1), (l.balance_after - l.amount, -1)) AS x(v, d)
           UNION ALL SELECT id, 0, 1 FROM customers
           UNION ALL SELECT id, balance, -1 FROM customers
         ) e GROUP BY customer_id, v HAVING sum(d) <> 0
       ) u GROUP BY customer_id`,
  )
  return checkFrom('ledger_chain', problems, 'every balance_after follows from the entry before it')
}

/** Every message has exactly one charge of its price, to its customer; every charge has its message. */
export async function chargePerMessage(q: Queryable, messages: number): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH c AS (
       SELECT message_id, count(*) AS n, sum(amount) AS amount, (array_agg(customer_id))[1] AS customer_id
         FROM ledger WHERE kind = 'charge' AND ${notArchived('message_id')} GROUP BY message_id
     )
     SELECT id, problem FROM (
       SELECT coalesce(m.id, c.message_id)::text AS id,
              CASE WHEN m.id IS NULL AND c.message_id IS NULL THEN 'charges without a message id'
                   WHEN m.id IS NULL THEN 'charges whose message is missing'
                   WHEN c.message_id IS NULL THEN 'messages without a charge'
                   WHEN c.n > 1 THEN 'messages charged more than once'
                   WHEN c.amount <> -m.price_micros THEN 'charges ≠ the message price'
                   WHEN c.customer_id <> m.customer_id THEN 'charges to another customer'
              END AS problem
         FROM messages m FULL JOIN c ON c.message_id = m.id
     ) x WHERE problem IS NOT NULL`,
  )
  return checkFrom('charge_per_message', problems, `each of ${messages} messages charged exactly once`)
}

/**
 * A message is owed a refund when it ended failed/rejected/expired/canceled and no carrier ever
 * took it (no carrier_refs, no submitted delivery): then exactly one refund of its price. Only
 * those messages and the refunded ones are looked at, each with index lookups.
 */
export async function refundsMatchFailures(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH r AS (
       SELECT message_id, count(*) AS n, sum(amount) AS amount, (array_agg(customer_id))[1] AS customer_id
         FROM ledger WHERE kind = 'refund' AND ${notArchived('message_id')} GROUP BY message_id
     ), cand AS (
       SELECT id, customer_id, status, price_micros FROM messages WHERE status = ANY($1::text[])
       UNION
       SELECT m.id, m.customer_id, m.status, m.price_micros FROM messages m JOIN r ON r.message_id = m.id
     ), x AS (
       SELECT coalesce(c.id, r.message_id) AS id, c.id IS NOT NULL AS has_message,
              r.message_id IS NOT NULL AS refunded, c.status = ANY($1::text[]) AS failed,
              (EXISTS (SELECT 1 FROM carrier_refs cr WHERE cr.message_id = c.id)
               OR EXISTS (SELECT 1 FROM deliveries d
                           WHERE d.message_id = c.id AND (d.state = 'submitted' OR d.carrier IS NOT NULL))) AS sent,
              r.n, r.amount, c.price_micros, r.customer_id AS refunded_to, c.customer_id
         FROM cand c FULL JOIN r ON r.message_id = c.id
     )
     SELECT id, problem FROM (
       SELECT id::text AS id,
              CASE WHEN NOT has_message AND id IS NULL THEN 'refunds without a message id'
                   WHEN NOT has_message THEN 'refunds whose message is missing'
                   WHEN n > 1 THEN 'messages refunded more than once'
                   WHEN failed AND NOT sent AND NOT refunded THEN 'failed messages no carrier took, not refunded'
                   WHEN refunded AND NOT failed THEN 'refunds of messages that did not fail'
                   WHEN refunded AND sent THEN 'refunds of messages a carrier took'
                   WHEN refunded AND amount <> price_micros THEN 'refunds ≠ the message price'
                   WHEN refunded AND refunded_to <> customer_id THEN 'refunds to another customer'
              END AS problem
         FROM x
     ) y WHERE problem IS NOT NULL`,
    [[...REFUNDED_WHEN_UNSENT]],
  )
  return checkFrom(
    'refunds_match_failures',
    problems,
    'each unsent failure refunded once at its price; nothing else refunded',
  )
}
