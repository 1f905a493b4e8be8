// Inbound (MO) messages from every carrier: concatenated parts reassembled, routed to the owner
// of the number or keyword, stored with its customer (or kept for the operator), published as
// `message.received`, and compliance keywords applied (opt-out list, confirmation/help reply).
// The carrier acknowledges the MO only once handle() resolves: everything up to the stored
// message and the opt-out is one transaction; the reply is sent after it (a failure is reported,
// not redelivered, or the recipient would be answered twice).

import type { InboundMessage } from '../carriers/carrier.ts'
import { type KeywordAction, keywordAction, wordsOf } from '../compliance/keywords.ts'
import { addOptOut, removeOptOut } from '../compliance/opt-outs-repository.ts'
import type { ComplianceChanges } from '../compliance/shared-cache.ts'
import { type Db, pgErrorCode, type Queryable } from '../db/db.ts'
import { createGroupCommitter } from '../lib/group-commit.ts'
import { addPart, type StoredInbound, storeInbound } from './inbound-repository.ts'
import { type Route, routeInbound } from './inbound-router.ts'
import { type ReplyDeps, type ReplyOutcome, sendKeywordReply } from './keyword-replies.ts'

/** Longest body we keep (a reassembled 10-part UCS-2 message is 670; HTTP providers are held to 1600 too). */
const MAX_BODY = 1600

export interface InboundHandlerOptions {
  db: Db
  /** Announces opt-out changes to the compliance caches (this process's and the others'). */
  changes?: ComplianceChanges
  /** Sends keyword replies; absent: none are sent. */
  replies?: ReplyDeps
  /** A message was stored (routed or not), with its part count. */
  onStored?: (m: StoredInbound) => void
  onReply?: (action: KeywordAction, outcome: ReplyOutcome) => void
  onError?: (err: unknown) => void
  /** Largest group of MO stored in one transaction (default 32). */
  maxBatch?: number
  /** Groups in flight (default 8). */
  concurrency?: number
}

export interface InboundHandler {
  /** Resolves once the message (or part) is recorded; rejects on a database error (the carrier redelivers). */
  handle(carrier: string, m: InboundMessage): Promise<StoredInbound | undefined>
  /** Waits for replies still being sent. */
  drain(): Promise<void>
}

const clean = (s: string) => s.replaceAll('\u0000', '')

export function createInboundHandler(opts: InboundHandlerOptions): InboundHandler {
  const pending = new Set<Promise<unknown>>()

  async function reply(action: KeywordAction, r: { customerId: string; number: string; to: string }) {
    if (!opts.replies) return
    try {
      const outcome = await sendKeywordReply(opts.replies, { ...r, action })
      opts.onReply?.(action, outcome)
    } catch (err) {
      opts.onError?.(new Error(`keyword reply (${action}) not sent`, { cause: err }))
    }
  }

  type Item = { carrier: string; m: InboundMessage }
  type Outcome = { stored: StoredInbound; route: Route | undefined; action: KeywordAction | undefined }

  async function processOne(tx: Queryable, { carrier, m }: Item): Promise<Outcome | undefined> {
    const from = clean(m.from)
    const to = clean(m.to)
    let body = clean(m.body)
    let parts = 1
    if (m.part) {
      const whole = await addPart(tx, { carrier, from, to, ...m.part, body })
      if (whole === undefined) return undefined
      body = whole
      parts = m.part.total
    }
    body = body.slice(0, MAX_BODY)
    const route = await routeInbound(tx, to, body)
    const stored = await storeInbound(tx, {
      carrier,
      from,
      to,
      body,
      customerId: route?.customerId ?? null,
      keyword: route?.keyword ?? null,
      parts,
      receivedAt: m.receivedAt,
    })
    const action = route ? keywordAction(wordsOf(body, 1)[0]) : undefined
    if (route && action === 'opt_out') await addOptOut(tx, route.customerId, from, 'keyword')
    if (route && action === 'opt_in') await removeOptOut(tx, route.customerId, from)
    return { stored, route, action }
  }

  // MO arriving together is stored in one transaction (one commit for the group, as receipts and
  // accepts). Parts take their message's lock in key order, so two groups never wait on each other
  // in a cycle; messages that are not parts keep their arrival order (STOP then START).
  const partKey = ({ carrier, m }: Item) =>
    m.part ? JSON.stringify([carrier, m.from, m.to, m.part.ref, m.part.total]) : ''
  const committer = createGroupCommitter<Item, Outcome | undefined>({
    maxBatch: opts.maxBatch ?? 32,
    // Each item is a few sequential statements: several groups in flight keep the pool busy.
    concurrency: opts.concurrency ?? 8,
    run: async (items) => {
      const order = items.map((it, i) => ({ it, i, key: partKey(it) }))
      order.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
      for (let attempt = 1; ; attempt++) {
        try {
          return await opts.db.transaction(async (tx) => {
            const out: (Outcome | undefined)[] = new Array(items.length)
            for (const o of order) out[o.i] = await processOne(tx, o.it)
            return out
          })
        } catch (err) {
          const code = pgErrorCode(err)
          if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw err
        }
      }
    },
  })

  return {
    async handle(carrier, m) {
      const from = clean(m.from)
      const result = await committer.submit({ carrier, m })
      if (!result) return undefined
      const { stored, route, action } = result
      opts.onStored?.(stored)
      if (route && action) {
        if (action !== 'help') opts.changes?.optOutChanged(route.customerId, from, action === 'opt_out')
        const p = reply(action, { customerId: route.customerId, number: route.number, to: from })
        pending.add(p)
        void p.finally(() => pending.delete(p))
      }
      return stored
    },
    async drain() {
      await committer.drain()
      await Promise.all(pending)
    },
  }
}
