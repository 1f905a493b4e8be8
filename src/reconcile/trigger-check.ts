// Invariant 2's "append-only": a rewrite of history leaves no trace in the data, so what is
// checked is that the guards are still in place — on each table and on every partition.

import type { Queryable } from '../db/db.ts'
import { checkFrom, findProblems, type ReconcileCheck } from './check.ts'

/** The accepted fields of a message: its guard fires on updates naming any of them (migration 0023). */
const MESSAGE_GUARDED = [
  'id',
  'created_at',
  'customer_id',
  'to_number',
  'from_sender',
  'segments',
  'price_micros',
  'currency',
  'priority',
]

/**
 * pg_trigger.tgtype bits: DELETE 8, UPDATE 16, TRUNCATE 32. `columns`: a column-specific guard
 * (UPDATE OF …) must list at least these.
 */
const GUARDS: {
  table: string
  trigger: string
  events: number
  perPartition: boolean
  columns?: string[]
}[] = [
  { table: 'ledger', trigger: 'ledger_append_only', events: 8 | 16, perPartition: true },
  { table: 'ledger', trigger: 'ledger_no_truncate', events: 32, perPartition: false },
  { table: 'message_events', trigger: 'message_events_append_only', events: 8 | 16, perPartition: true },
  {
    table: 'messages',
    trigger: 'messages_guard',
    events: 8 | 16,
    perPartition: true,
    columns: MESSAGE_GUARDED,
  },
  { table: 'customer_events', trigger: 'customer_events_append_only', events: 8 | 16, perPartition: true },
]

export async function appendOnlyTriggers(q: Queryable): Promise<ReconcileCheck> {
  const problems = await findProblems(
    q,
    `WITH want AS (
       SELECT * FROM json_to_recordset($1::json)
                AS x(table_name text, trigger text, events int, per_partition boolean, columns text[])
     ), rels AS (
       SELECT w.*, t.relid FROM want w
         LEFT JOIN LATERAL (SELECT to_regclass(w.table_name) AS relid
                            UNION SELECT relid FROM pg_partition_tree(to_regclass(w.table_name))
                             WHERE w.per_partition) t ON true
     )
     SELECT id, problem FROM (
       SELECT coalesce(r.relid::regclass::text, r.table_name) || '.' || r.trigger AS id,
              CASE WHEN r.relid IS NULL THEN 'guarded tables missing'
                   WHEN tr.oid IS NULL THEN 'append-only triggers missing'
                   WHEN tr.tgenabled NOT IN ('O', 'A') THEN 'append-only triggers disabled'
                   WHEN (tr.tgtype::int & r.events) <> r.events THEN 'append-only triggers not covering every event'
                   WHEN cardinality(tr.tgattr::int2[]) > 0 AND NOT coalesce(
                          (SELECT array_agg(a.attnum) FROM pg_attribute a
                            WHERE a.attrelid = r.relid AND a.attname = ANY(r.columns)) <@ tr.tgattr::int2[], false)
                     THEN 'append-only triggers not covering every guarded column'
                   WHEN p.prosrc !~* 'raise\\s+exception' THEN 'append-only trigger functions that no longer raise'
              END AS problem
         FROM rels r
         LEFT JOIN pg_trigger tr ON tr.tgrelid = r.relid AND tr.tgname = r.trigger
         LEFT JOIN pg_proc p ON p.oid = tr.tgfoid
     ) x WHERE problem IS NOT NULL`,
    [
      JSON.stringify(
        GUARDS.map((g) => ({
          table_name: g.table,
          trigger: g.trigger,
          events: g.events,
          per_partition: g.perPartition,
          columns: g.columns ?? [],
        })),
      ),
    ],
  )
  return checkFrom(
    'append_only_triggers',
    problems,
    'ledger, message_events, messages and customer_events guards present and enabled on every partition',
  )
}
