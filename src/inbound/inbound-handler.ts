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
import type { Db } from '../db/db.ts'
import { addPart, type StoredInbound, storeInbound } from './inbound-repository.ts'
import { routeInbound } from './inbound-router.ts'
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
}

export interface InboundHandler {
  /** Resolves once the message (or part) is recorded; rejects on a database error (the carrier redelivers). */
  handle(carrier: string, m: InboundMessage): Promise<StoredInbound | undefined>
  /** Waits for replies still being sent. */
  drain(): Promise<void>
}

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

  return {
    async handle(carrier, m) {
      const clean = (s: string) => s.replaceAll('\u0000', '')
      const from = clean(m.from)
      const to = clean(m.to)
      const result = await opts.db.transaction(async (tx) => {
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
      })
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
      await Promise.all(pending)
    },
  }
}
