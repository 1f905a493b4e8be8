// Request/response bookkeeping for the ESME side. We number our own requests, write them to the
// socket ourselves and match responses from the 'pdu' stream, rather than use the library's
// per-sequence callbacks, because what a lost request means depends on whether it was *written*:
// the library drops the error of a failed write. Every request settles on its response, a
// timeout, or its session closing.
//
// - Not written (socket not writable, or the write failed when the link dropped): the carrier
//   never saw it, so the error is transient and `unsent`: safe to send again.
// - Written and unanswered: for a submit_sm the carrier may have taken it, so the error is an
//   UnconfirmedSubmitError, never retried.
// The response timeout runs from the write, on a clock that stops while our event loop is stalled
// (stall-clock.ts), and a response already in the socket buffer is read before it is declared.

import { TransientCarrierError, UnconfirmedSubmitError } from '../errors.ts'
import { corkUntilTickEnd } from './cork.ts'
import type { Pdu, PduFields, Session, SmppModule } from './smpp-types.ts'
import type { StallClock } from './stall-clock.ts'

export interface RequestOptions {
  /** A written request left unanswered may have been acted on (submit_sm). Default false. */
  unconfirmedWhenLost?: boolean
}

export interface Requests {
  send(s: Session, command: string, fields: PduFields, opts?: RequestOptions): Promise<Pdu>
  /**
   * Settles the request `pdu` answers: 'answered'; 'late' when that request had already timed
   * out (the carrier was slower than the timeout); 'unmatched' when it is none of ours.
   */
  onResponse(s: Session, pdu: Pdu): 'answered' | 'late' | 'unmatched'
  /** Fails every request still waiting on `s` (it closed). */
  failSession(s: Session, err: Error): void
}

export interface RequestsConfig {
  smpp: SmppModule
  timeoutMs: number
  carrier: string
  clock: StallClock
}

interface Pending {
  command: string
  unconfirmedWhenLost: boolean
  written: boolean
  /** The session closed while the write was still pending: its callback decides the error. */
  lost?: Error
  timer?: NodeJS.Timeout
  resolve(pdu: Pdu): void
  fail(err: Error): void
}

interface SessionRequests {
  lastSeq: number
  pending: Map<number, Pending>
  /** Sequence numbers of requests that timed out, so a late answer is recognised (bounded). */
  timedOut: Set<number>
}

const MAX_SEQUENCE = 0x7fffffff
const REMEMBER_TIMED_OUT = 1024

export function createRequests(cfg: RequestsConfig): Requests {
  const { smpp, timeoutMs, carrier, clock } = cfg
  const sessions = new WeakMap<Session, SessionRequests>()
  const of = (s: Session) => {
    let r = sessions.get(s)
    if (!r) {
      r = { lastSeq: 0, pending: new Map(), timedOut: new Set() }
      sessions.set(s, r)
    }
    return r
  }

  const lostError = (p: Pending, cause: Error) =>
    p.unconfirmedWhenLost
      ? new UnconfirmedSubmitError(`connection to carrier lost before the ${p.command} was answered`, {
          code: 'connection_lost',
          carrier,
          cause,
        })
      : cause

  /**
   * Calls `expire` once `timeoutMs` of unstalled time has passed, unless the request settled or
   * moved on (`current` false) first. A response (or write completion) that is already waiting
   * in the socket is processed before `expire`: the poll phase runs before setImmediate.
   */
  function deadline(p: Pending, current: () => boolean, expire: () => void): void {
    const at = clock.now() + timeoutMs
    const check = () => {
      if (!current()) return
      const left = at - clock.now()
      if (left > 0) {
        p.timer = setTimeout(check, Math.ceil(left))
        return
      }
      setImmediate(() => {
        if (!current()) return
        if (at - clock.now() > 0) check()
        else expire()
      })
    }
    p.timer = setTimeout(check, timeoutMs)
  }

  return {
    send(s, command, fields, opts = {}) {
      return new Promise<Pdu>((resolve, reject) => {
        if (!s.socket.writable) {
          reject(
            new TransientCarrierError('connection to carrier is not writable', {
              code: 'not_bound',
              carrier,
              unsent: true,
            }),
          )
          return
        }
        const r = of(s)
        r.lastSeq = r.lastSeq >= MAX_SEQUENCE ? 1 : r.lastSeq + 1
        const seq = r.lastSeq
        const settle = () => {
          clearTimeout(p.timer)
          r.pending.delete(seq)
        }
        const p: Pending = {
          command,
          unconfirmedWhenLost: opts.unconfirmedWhenLost ?? false,
          written: false,
          resolve(pdu) {
            settle()
            resolve(pdu)
          },
          fail(err) {
            settle()
            reject(err)
          },
        }
        r.pending.set(seq, p)
        const isPending = () => r.pending.get(seq) === p
        // A write that cannot finish in time means a link that no longer drains: drop it, which
        // fails this write (and every later one) before any of it reaches the carrier.
        deadline(
          p,
          () => isPending() && !p.written,
          () => s.socket.destroy(new Error(`${command} could not be written within ${timeoutMs} ms`)),
        )
        const pdu = new smpp.PDU(command, { ...fields, sequence_number: seq })
        corkUntilTickEnd(s.socket)
        s.socket.write(pdu.toBuffer(), (err) => {
          if (!isPending()) return
          clearTimeout(p.timer)
          if (err) {
            p.fail(
              new TransientCarrierError(`connection to carrier lost before the ${command} was written`, {
                code: 'connection_lost',
                carrier,
                unsent: true,
                cause: err,
              }),
            )
            return
          }
          p.written = true
          if (p.lost) {
            p.fail(lostError(p, p.lost))
            return
          }
          deadline(p, isPending, () => {
            r.timedOut.add(seq)
            // Oldest first: a Set iterates in insertion order.
            if (r.timedOut.size > REMEMBER_TIMED_OUT)
              r.timedOut.delete(r.timedOut.values().next().value as number)
            const message = `${command} got no response within ${timeoutMs} ms of being written`
            p.fail(
              p.unconfirmedWhenLost
                ? new UnconfirmedSubmitError(message, { code: 'timeout', carrier })
                : new TransientCarrierError(message, { code: 'timeout', carrier }),
            )
          })
        })
      })
    },
    onResponse(s, pdu) {
      const r = sessions.get(s)
      const p = r?.pending.get(pdu.sequence_number)
      if (p) {
        p.resolve(pdu)
        return 'answered'
      }
      return r?.timedOut.delete(pdu.sequence_number) ? 'late' : 'unmatched'
    },
    failSession(s, err) {
      const r = sessions.get(s)
      if (!r) return
      for (const p of [...r.pending.values()]) {
        if (p.written) p.fail(lostError(p, err))
        else p.lost = err
      }
    },
  }
}
