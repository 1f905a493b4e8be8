import type { Queryable } from '../db/db.ts'

/** One kind of offence a check found: how many rows and a few of their ids. */
export interface Problem {
  problem: string
  n: number
  samples: string[]
}

export const SAMPLES = 5

/**
 * Runs `badSql` — a query whose rows are the offending `(id text, problem text)` pairs, each id
 * under one problem — and returns the count and a few ids per problem in one statement. The
 * offending rows are materialized once; samples stop after SAMPLES rows, so a disaster with
 * millions of offenders costs one count, not an array of millions.
 */
export async function findProblems(q: Queryable, badSql: string, params: unknown[] = []): Promise<Problem[]> {
  const { rows } = await q.query<{ problem: string; n: number | string; samples: string[] }>(
    `WITH bad AS MATERIALIZED (${badSql}),
     agg AS (SELECT problem, count(*) AS n FROM bad GROUP BY problem)
     SELECT a.problem, a.n::int AS n,
            ARRAY(SELECT coalesce(b.id, '(null)') FROM bad b WHERE b.problem = a.problem LIMIT ${SAMPLES}) AS samples
       FROM agg a ORDER BY a.n DESC, a.problem`,
    params,
  )
  return rows.map((r) => ({ problem: r.problem, n: Number(r.n), samples: r.samples }))
}

/** One line of the reconciliation report. */
export interface ReconcileCheck {
  name: string
  ok: boolean
  /** Offending rows (customers, messages, triggers… as the check counts them). */
  found: number
  detail: string
  /** Up to SAMPLES offending ids. */
  samples: string[]
}

/** A check built from its problems: it passes when there are none; `okDetail` says what held. */
export function checkFrom(name: string, problems: Problem[], okDetail: string): ReconcileCheck {
  const found = problems.reduce((s, p) => s + p.n, 0)
  return {
    name,
    ok: found === 0,
    found,
    detail: found === 0 ? okDetail : problems.map((p) => `${p.n} ${p.problem}`).join('; '),
    samples: sampleOf(problems),
  }
}

/** Up to SAMPLES ids, taken from each problem in turn so every kind of offence shows. */
export function sampleOf(problems: Problem[]): string[] {
  const out: string[] = []
  for (let i = 0; out.length < SAMPLES && problems.some((p) => i < p.samples.length); i++) {
    for (const p of problems) {
      const id = p.samples[i]
      if (id !== undefined && out.length < SAMPLES && !out.includes(id)) out.push(id)
    }
  }
  return out
}
