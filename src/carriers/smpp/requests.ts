// Request/response bookkeeping on top of the library's per-sequence callbacks, which never fire if
// the response never comes: every request here settles on its response, a timeout, or its session
// closing.

import { TransientCarrierError } from '../errors.ts'
import type { Pdu, PduFields, Session, SmppModule } from './smpp-types.ts'

export interface Requests {
  send(s: Session, command: string, fields: PduFields): Promise<Pdu>
  /** Fails every request still waiting on `s` (it closed). */
  failSession(s: Session, err: Error): void
}

interface PendingRequest {
  session: Session
  fail(err: Error): void
}

export function createRequests(smpp: SmppModule, timeoutMs: number, carrier: string): Requests {
  const pending = new Set<PendingRequest>()
  return {
    send(s, command, fields) {
      const pdu = new smpp.PDU(command, fields)
      return new Promise<Pdu>((resolve, reject) => {
        const entry: PendingRequest = {
          session: s,
          fail(err) {
            settle()
            reject(err)
          },
        }
        const timer = setTimeout(
          () =>
            entry.fail(
              new TransientCarrierError(`${command} got no response within ${timeoutMs} ms`, {
                code: 'timeout',
                carrier,
              }),
            ),
          timeoutMs,
        )
        const settle = () => {
          clearTimeout(timer)
          pending.delete(entry)
        }
        pending.add(entry)
        const sent = s.send(pdu, (resp) => {
          if (!pending.has(entry)) return
          settle()
          resolve(resp)
        })
        if (!sent) {
          entry.fail(
            new TransientCarrierError('connection to carrier is not writable', {
              code: 'not_bound',
              carrier,
            }),
          )
        }
      })
    },
    failSession(s, err) {
      for (const p of [...pending]) if (p.session === s) p.fail(err)
    },
  }
}
