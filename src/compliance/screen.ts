// The compliance screen of a send (single or batch), before anything is charged: recipients on
// the customer's opt-out list, numeric senders the customer does not own, and alphanumeric
// senders to countries where the operator allows only numbers. In memory for a cached customer;
// one indexed query for a customer whose list is too long to cache.

import type { Queryable } from '../db/db.ts'
import { parseSender } from '../domain/sender.ts'
import type { ComplianceCache } from './compliance-cache.ts'
import { optedOutAmong } from './opt-outs-repository.ts'

export interface Refusal {
  code: 'recipient_opted_out' | 'invalid_sender'
  message: string
  param: 'to' | 'from'
}

export interface Screening {
  /** Refuses every recipient: a numeric sender the customer does not own, or an unparsable one. */
  sender?: Refusal
  /** By recipient index: why it may not be sent, or undefined. */
  recipients: (Refusal | undefined)[]
  /** True when no recipient is refused and the sender is fine. */
  ok: boolean
}

export interface Recipient {
  /** E.164. */
  to: string
  /** ISO 3166 alpha-2 of `to`. */
  country: string
}

export interface Screener {
  screen(customerId: string, from: string, recipients: readonly Recipient[]): Promise<Screening>
}

export function createScreener(deps: {
  db: Queryable
  cache: ComplianceCache
  /** Countries where alphanumeric senders are refused (SMSGW_NUMERIC_SENDER_COUNTRIES). */
  numericOnly: ReadonlySet<string>
}): Screener {
  return {
    async screen(customerId, from, recipients) {
      const entry = await deps.cache.get(customerId)
      const sender = parseSender(from)
      const out: Screening = { recipients: new Array(recipients.length).fill(undefined), ok: true }
      if (!sender) {
        out.sender = { code: 'invalid_sender', message: `'from' is not a valid sender`, param: 'from' }
      } else if (sender.kind !== 'alphanumeric' && !entry.senders.has(sender.value)) {
        out.sender = {
          code: 'invalid_sender',
          message: `'from' ${sender.value} is not a number assigned to this account`,
          param: 'from',
        }
      }
      if (out.sender) {
        out.ok = false
        return out
      }
      const optedOut =
        entry.optOuts ??
        new Set(
          recipients.length === 0
            ? []
            : await optedOutAmong(
                deps.db,
                customerId,
                recipients.map((r) => r.to),
              ),
        )
      const alpha = sender?.kind === 'alphanumeric' && deps.numericOnly.size > 0
      for (const [i, r] of recipients.entries()) {
        if (optedOut.has(r.to)) {
          out.recipients[i] = {
            code: 'recipient_opted_out',
            message: `${r.to} has opted out of messages from this account`,
            param: 'to',
          }
          out.ok = false
        } else if (alpha && deps.numericOnly.has(r.country)) {
          out.recipients[i] = {
            code: 'invalid_sender',
            message: `Alphanumeric senders are not allowed to ${r.country} numbers; send from one of your numbers`,
            param: 'from',
          }
          out.ok = false
        }
      }
      return out
    },
  }
}
