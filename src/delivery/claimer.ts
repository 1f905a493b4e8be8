// The worker's writes to `deliveries` before a submit, each group-committed across concurrent jobs
// (ADR 0008 and its amendment of 2026-12-07).

import type { Db } from '../db/db.ts'
import type { DeliveryJob } from '../domain/message.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { type ClaimResult, claimDelivery, claimNew, markSubmitting } from './claims.ts'

export interface Claimer {
  /** A claim on its own (no submit yet): for redeliveries, expired jobs, and a first try that failed before its mark. */
  claim(job: DeliveryJob): Promise<ClaimResult>
  /**
   * Marks the job `submitting`, right before its write. With the attempt of a claim held, that
   * claim is marked; with none, the job is claimed and marked in one write (its first try).
   * Resolves with the claim's attempt, or undefined when it was not held or not taken: the
   * write must then be abandoned (`why` tells a first try what to do instead).
   */
  mark(job: DeliveryJob, attempt: number | undefined): Promise<number | undefined>
  /** Why a job's claim was not taken: one job at a time (rare: redeliveries, duplicates, cancels). */
  why(job: DeliveryJob): Promise<ClaimResult>
}

export function createClaimer(db: Db, leaseMs: number): Claimer {
  // A job the group could not claim (a redelivery, a live lease elsewhere, a second copy in this
  // very group) gets undefined and learns why on its own.
  const claimsAs = (state: 'claimed' | 'submitting') =>
    createGroupCommitter<DeliveryJob, number | undefined>({
      maxBatch: 500,
      concurrency: 2,
      run: async (jobs) => {
        const claimed = await claimNew(db, jobs, leaseMs, state)
        return jobs.map((j) => {
          const attempt = claimed.get(j.id)
          claimed.delete(j.id)
          return attempt
        })
      },
    })
  const claims = claimsAs('claimed')
  const claimMarks = claimsAs('submitting')
  const marks = createGroupCommitter<{ id: string; attempt: number }, boolean>({
    maxBatch: 500,
    concurrency: 2,
    run: async (held) => {
      const still = await markSubmitting(db, held)
      return held.map((c) => still.has(c.id))
    },
  })
  const why = (job: DeliveryJob) => claimDelivery(db, job, leaseMs)
  return {
    async claim(job) {
      const attempt = await claims.submit(job)
      return attempt === undefined ? why(job) : { kind: 'claimed', attempt }
    },
    async mark(job, attempt) {
      if (attempt === undefined) return claimMarks.submit(job)
      return (await marks.submit({ id: job.id, attempt })) ? attempt : undefined
    },
    why,
  }
}
