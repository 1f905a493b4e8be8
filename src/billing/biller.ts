import type { Db } from '../db/db.ts'
import { pgErrorCode } from '../db/db.ts'
import type { NewMessage } from '../domain/message.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { acceptBatch } from './accept-batch.ts'
import { acceptFast, FastPathDeclined } from './accept-fast.ts'
import {
  type AcceptItem,
  type AcceptOutcome,
  type AcceptRequest,
  type BulkAcceptRequest,
  isBulk,
  messagesOf,
  type RenderAccepted,
} from './types.ts'

export interface BillerOptions {
  db: Db
  render: RenderAccepted
  maxBatch?: number
  concurrency?: number
  onGroup?: (size: number) => void
  /** Observes how long each group took to commit and on which path. */
  onCommitted?: (path: 'fast' | 'exact', seconds: number) => void
  /**
   * Called once a group has committed, with the messages it accepted (not replays): a dispatcher
   * in this process keeps their jobs (Dispatcher.handoff). Default: none.
   */
  handoff?: (messages: NewMessage[]) => void
}

export interface Biller {
  /** Charges and records one message; resolves once its group has committed. */
  accept(req: AcceptRequest): Promise<AcceptOutcome>
  /**
   * Charges and records a whole batch, all or nothing, as one item of a group (its messages
   * count towards the group's size, so a 10,000-message batch is a group of its own).
   */
  acceptBulk(req: BulkAcceptRequest): Promise<AcceptOutcome>
  drain(): Promise<void>
}

/** Errors after which the whole group can safely run again: nothing of it committed. */
const RETRYABLE = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 3

/**
 * Each group first tries the one-statement optimistic path (accept-fast.ts); when a balance
 * would not cover the whole group, or a key is already live, it runs the exact transaction
 * (accept-batch.ts) that decides request by request under the customer locks.
 */
export function createBiller(opts: BillerOptions): Biller {
  const handoff = opts.handoff
  /** The outcomes of a committed group, after its accepted messages were handed over. */
  const committed = (items: AcceptItem[], out: AcceptOutcome[]) => {
    if (!handoff) return out
    // 'accepted' is exactly the items this group wrote ('replayed' ones were written before).
    const accepted = items.flatMap((item, i) => (out[i]?.kind === 'accepted' ? messagesOf(item) : []))
    if (accepted.length > 0) handoff(accepted)
    return out
  }
  const committer = createGroupCommitter<AcceptItem, AcceptOutcome>({
    maxBatch: opts.maxBatch,
    weigh: (i) => (isBulk(i) ? Math.max(1, i.messages.length) : 1),
    concurrency: opts.concurrency,
    onGroup: opts.onGroup,
    run: async (items) => {
      const started = performance.now()
      try {
        const out = await acceptFast(opts.db, items, opts.render)
        opts.onCommitted?.('fast', (performance.now() - started) / 1000)
        return committed(items, out)
      } catch (err) {
        if (!(err instanceof FastPathDeclined)) throw err
      }
      for (let attempt = 1; ; attempt++) {
        try {
          const out = await opts.db.transaction((tx) => acceptBatch(tx, items, opts.render))
          opts.onCommitted?.('exact', (performance.now() - started) / 1000)
          return committed(items, out)
        } catch (err) {
          const code = pgErrorCode(err)
          if (attempt >= MAX_ATTEMPTS || !code || !RETRYABLE.has(code)) throw err
        }
      }
    },
  })
  return {
    accept: (req) => committer.submit(req),
    acceptBulk: (req) => committer.submit(req),
    drain: () => committer.drain(),
  }
}
