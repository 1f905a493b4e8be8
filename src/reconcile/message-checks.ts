// Invariants 3 and 4 (message side): nothing accepted is lost, nothing submitted twice, and the
// status of every message only ever moved forward.

import type { Queryable } from '../db/db.ts'
import { FINAL_STATUSES, STATUS_RANK, STATUSES } from '../domain/status.ts'
import { checkFrom, findProblems, type Problem, type ReconcileCheck, sampleOf } from './check.ts'

/** STATUS_RANK as SQL (the statuses are our own constants, not input); NULL for an unknown status. */
const rankOf = (col: string) =>
  `CASE ${col} ${STATUSES.map((s) => `WHEN '${s}' THEN ${STATUS_RANK[s]}`).join(' ')} END`

export interface NothingLostOptions {
  /** The system is quiescent: any message not final (and not scheduled for later) is lost. */
  settled: boolean
  /** Without `settled`, a pending message nothing has moved for this long is stalled. */
  stallAfterS: number
}

/**
 * Every message not final is classified by where it waits: in the outbox (scheduled for later or
 * due), with a worker (a claim), awaiting its receipt, or dispatched and not yet claimed (on the
 * bus, which the database cannot see). With `settled` every one of them but the scheduled is lost.
 * Without it a message is lost only when stalled — nothing can still move it: its worker's lease
 * ran out `stallAfterS` ago, its receipt is `stallAfterS` past its validity, or its delivery was
 * closed `stallAfterS` ago without a final status. One out of the outbox, unclaimed and older
 * than `stallAfterS` is only reported as suspicious: the database does not record when it left
 * the outbox, so it may be on the bus right now. A charge whose message row is gone is lost.
 */
export async function nothingLost(q: Queryable, opts: NothingLostOptions): Promise<ReconcileCheck> {
  const all = await findProblems(
    q,
    `WITH p AS (
       SELECT m.id,
              CASE WHEN o.available_at > now() THEN 'scheduled for later'
                   WHEN o.message_id IS NOT NULL THEN 'due in the outbox'
                   WHEN d.state IN ('claimed', 'submitting') THEN 'with a worker'
                   WHEN d.state = 'submitted' THEN 'awaiting a receipt'
                   WHEN d.state = 'final' THEN 'delivery closed, status not final'
                   ELSE 'dispatched, not claimed' END AS at,
              -- How long nothing has moved it, where the database can tell.
              CASE WHEN o.message_id IS NOT NULL THEN 'pending'
                   WHEN d.state IN ('claimed', 'submitting') AND d.lease_until < now() - $2 * interval '1 second'
                     THEN 'stalled'
                   WHEN d.state = 'submitted'
                    AND greatest(m.expires_at, m.status_updated_at) < now() - $2 * interval '1 second' THEN 'stalled'
                   WHEN d.state = 'final' AND d.updated_at < now() - $2 * interval '1 second' THEN 'stalled'
                   -- Left the outbox at an unknown time (a flood's backlog waits there for hours).
                   WHEN d.message_id IS NULL
                    AND greatest(m.status_updated_at, m.send_at) < now() - $2 * interval '1 second' THEN 'suspicious'
                   ELSE 'pending' END AS state
         FROM messages m
         LEFT JOIN (SELECT message_id, min(available_at) AS available_at FROM outbox GROUP BY message_id) o
           ON o.message_id = m.id
         LEFT JOIN deliveries d ON d.message_id = m.id
        WHERE m.status <> ALL($1::text[])
     )
     SELECT id::text AS id, state || ': ' || at AS problem FROM p
     UNION ALL
     SELECT l.message_id::text, 'lost: charged but the message row is missing' FROM ledger l
      WHERE l.kind = 'charge' AND l.message_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = l.message_id)`,
    [FINAL_STATUSES, opts.stallAfterS],
  )
  // Labels are '<pending|suspicious|stalled|lost>: <where>'; which count as lost depends on `settled`.
  const lost = (p: Problem) =>
    /^(stalled|lost)/.test(p.problem) || (opts.settled && p.problem !== 'pending: scheduled for later')
  const offending = all.filter(lost).map((p) => ({
    ...p,
    problem: p.problem.replace(/^(pending|suspicious): /, 'not final, ').replace(/^(\w+): /, '$1, '),
  }))
  const waiting = all
    .filter((p) => !lost(p))
    .map((p) => ({ ...p, problem: p.problem.replace(/^pending: /, '').replace(/^(\w+): /, '$1, ') }))
  const found = offending.reduce((s, p) => s + p.n, 0)
  const pending = all.filter((p) => !p.problem.startsWith('lost')).reduce((s, p) => s + p.n, 0)
  const list = (ps: Problem[]) => ps.map((p) => `${p.n} ${p.problem}`).join(', ')
  const mode = opts.settled ? 'settled: not final counts as lost' : `live, stall limit ${opts.stallAfterS} s`
  return {
    name: 'nothing_lost',
    ok: found === 0,
    found,
    detail:
      found === 0
        ? `${pending} pending${pending ? ` (${list(waiting)})` : ''}, none stalled (${mode})`
        : `${found} lost: ${list(offending)}${waiting.length ? `; pending ${list(waiting)}` : ''} (${mode})`,
    samples: sampleOf(offending),
  }
}

/**
 * From the database: no message submitted to two carriers, no part submitted twice, no more parts
 * than the message was split into. (Resubmits the worker never recorded — a timeout after the
 * carrier took it — are only visible in the carriers' own counters: see simDuplicates.)
 */
export async function recordedDoubleSends(q: Queryable): Promise<Problem[]> {
  return findProblems(
    q,
    `SELECT message_id::text AS id,
            CASE WHEN count(DISTINCT carrier) > 1 THEN 'messages submitted to more than one carrier'
                 WHEN count(*) > count(DISTINCT part) THEN 'messages with a part submitted twice'
                 ELSE 'messages with more parts submitted than they have' END AS problem
       FROM carrier_refs GROUP BY message_id
      HAVING count(DISTINCT carrier) > 1 OR count(*) > count(DISTINCT part)
          OR count(*) > min(parts) OR min(parts) <> max(parts)`,
  )
}

/**
 * Events of a message, in id order (ids are taken under the message's row lock, so they follow
 * commit order), strictly climb STATUS_RANK — the writer drops any change that does not move
 * forward, so a repeat (two final statuses) is as wrong as a step back — and the status
 * projection on `messages` is the last event's. A message without events is still in its
 * accepted status (queued or scheduled). One sort of message_events, one pass over messages.
 */
export async function statusesMonotone(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH ev AS (
       SELECT message_id, status, ${rankOf('status')} AS r,
              lag(${rankOf('status')}) OVER w AS prev_r, lead(id) OVER w IS NULL AS last
         FROM message_events WINDOW w AS (PARTITION BY message_id ORDER BY id)
     ), per AS (
       SELECT message_id, bool_or(r IS NULL OR r <= prev_r) AS backward,
              (array_agg(status) FILTER (WHERE last))[1] AS last_status
         FROM ev GROUP BY message_id
     )
     SELECT id, problem FROM (
       SELECT coalesce(m.id, p.message_id)::text AS id,
              CASE WHEN m.id IS NULL THEN 'events of a missing message'
                   WHEN p.backward THEN 'messages whose status moved backward or repeated'
                   WHEN p.message_id IS NULL AND m.status NOT IN ('queued', 'scheduled')
                     THEN 'messages with a status but no events'
                   WHEN p.message_id IS NOT NULL AND m.status <> p.last_status
                     THEN 'messages whose status is not their last event'
              END AS problem
         FROM messages m FULL JOIN per p ON p.message_id = m.id
     ) x WHERE problem IS NOT NULL`,
  )
  return checkFrom(
    'statuses_monotone',
    problems,
    'every event sequence climbs in status rank and ends at the message status',
  )
}
