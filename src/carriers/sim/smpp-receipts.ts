// Store-and-forward of SMPP receipts: to the submitting session if it is still bound, else to any
// session bound with the same system_id, else held until one binds. A receipt the client refuses
// (e.g. ESME_RX_T_APPN) or that is unacknowledged when its session closes is tried again.

import { SmppStatus } from '../errors.ts'
import type { PduFields, Session, SmppModule } from '../smpp/smpp-types.ts'
import type { CounterStore } from './counters.ts'
import type { Timers } from './timers.ts'

const MAX_QUEUED = 100_000
// Like an SMSC (which retries for hours), though bounded for tests: 12 tries over about a minute
// (100 ms doubling, capped at 10 s), so a gateway restarting its database loses no receipt.
const MAX_ATTEMPTS = 12
const MAX_RETRY_DELAY_MS = 10_000

interface PendingReceipt {
  systemId: string
  preferred: Session | undefined
  fields: PduFields
  attempts: number
}

export interface ReceiptRouterDeps {
  smpp: SmppModule
  counters: CounterStore
  timers: Timers
  /** A bound session for `systemId`, `preferred` first. */
  findSession(systemId: string, preferred: Session | undefined): Session | undefined
}

export interface ReceiptRouter {
  send(systemId: string, preferred: Session, fields: PduFields): void
  /** A session bound: hand it the receipts held for its system_id. */
  bound(systemId: string): void
  /** A session closed: its unacknowledged receipts go back to the queue. */
  closed(session: Session): void
}

export function createReceiptRouter(deps: ReceiptRouterDeps): ReceiptRouter {
  const { smpp, timers } = deps
  const c = () => deps.counters.c
  const held = new Map<string, PendingReceipt[]>()
  const awaiting = new Map<Session, Set<PendingReceipt>>()

  function deliver(r: PendingReceipt): void {
    const session = deps.findSession(r.systemId, r.preferred)
    if (!session) {
      hold(r)
      return
    }
    const mine = awaiting.get(session) ?? new Set()
    awaiting.set(session, mine)
    mine.add(r)
    const sent = session.send(new smpp.PDU('deliver_sm', r.fields), (resp) => {
      mine.delete(r)
      if (resp.command_status === SmppStatus.ESME_ROK) {
        c().receiptsSent++
        return
      }
      r.attempts++
      if (r.attempts >= MAX_ATTEMPTS) c().receiptsFailed++
      else timers.after(Math.min(MAX_RETRY_DELAY_MS, 100 * 2 ** r.attempts), () => deliver(r))
    })
    if (!sent) {
      mine.delete(r)
      hold(r)
    }
  }

  function hold(r: PendingReceipt): void {
    const list = held.get(r.systemId) ?? []
    if (list.length >= MAX_QUEUED) {
      c().receiptsFailed++
      return
    }
    r.preferred = undefined
    list.push(r)
    held.set(r.systemId, list)
    c().receiptsQueued++
  }

  return {
    send(systemId, preferred, fields) {
      deliver({ systemId, preferred, fields, attempts: 0 })
    },
    bound(systemId) {
      const list = held.get(systemId)
      if (!list) return
      held.delete(systemId)
      c().receiptsQueued -= list.length
      for (const r of list) deliver(r)
    },
    closed(session) {
      const mine = awaiting.get(session)
      awaiting.delete(session)
      for (const r of mine ?? []) hold(r)
    },
  }
}
