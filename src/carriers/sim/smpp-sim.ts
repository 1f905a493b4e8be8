// The simulator's SMSC side: accepts bind_transceiver, answers submit_sm, sends receipts (see
// smpp-receipts.ts) and MO as deliver_sm.

import { randomBytes } from 'node:crypto'
import { SmppStatus } from '../errors.ts'
import { concatInfo } from '../smpp/concat.ts'
import type { Pdu, PduFields, Session, SmppModule, SmppServer } from '../smpp/smpp-types.ts'
import { readMessageIdTlv } from '../smpp/tlv.ts'
import type { Behavior, Verdict } from './behavior.ts'
import type { CounterStore } from './counters.ts'
import type { SimOptions } from './options.ts'
import { decodedText, fingerprint, inboundDeliverSms, type MoConcat, receiptDeliverSm } from './smpp-pdus.ts'
import { createReceiptRouter } from './smpp-receipts.ts'
import type { SubmitLog, SubmitRecord } from './submit-log.ts'
import type { Timers } from './timers.ts'

export interface SmppSimDeps {
  smpp: SmppModule
  options: () => SimOptions
  behavior: Behavior
  counters: CounterStore
  timers: Timers
  log: SubmitLog
  messageIdTlv: number
}

export interface SmppSim {
  listen(port: number, host: string): Promise<number>
  /**
   * Delivers an MO on a bound session (a long one whole in message_payload, or in parts with a UDH
   * or SAR TLVs); resolves on the client's deliver_sm_resp to every part.
   */
  sendInbound(m: { from: string; to: string; body: string }, concat?: MoConcat): Promise<void>
  dropSessions(): void
  close(): Promise<void>
}

interface SessionState {
  session: Session
  bound: boolean
  systemId: string
  inFlight: number
  idleTimer?: NodeJS.Timeout
}

const SIM_SYSTEM_ID = 'smsgw-sim'
const REJECTION: Record<Exclude<Verdict, 'accepted'>, number> = {
  throttled: SmppStatus.ESME_RTHROTTLED,
  transient: SmppStatus.ESME_RSYSERR,
  permanent: SmppStatus.ESME_RINVDSTADR,
}

export function createSmppSim(deps: SmppSimDeps): SmppSim {
  const { smpp, options, behavior, counters, timers } = deps
  const states = new Map<Session, SessionState>()
  // The concatenation reference of the last MO sent in parts (8 bits, as most SMSCs use).
  let moRef = 0
  const c = () => counters.c
  const receipts = createReceiptRouter({
    smpp,
    counters,
    timers,
    findSession(systemId, preferred) {
      const p = preferred && states.get(preferred)
      if (p?.bound) return p.session
      for (const st of states.values()) if (st.bound && st.systemId === systemId) return st.session
      return undefined
    },
  })

  const server: SmppServer = smpp.createServer({}, (session) => {
    const st: SessionState = { session, bound: false, systemId: '', inFlight: 0 }
    states.set(session, st)
    session.socket.setNoDelay(true)
    // A client vanishing mid-write, or sending a PDU the library cannot parse (after which it stops
    // reading), ends the session; 'close' follows and cleans up.
    session.on('error', () => session.destroy())
    session.on('close', () => {
      // A client killed with unread data resets the connection, and the stream stops announcing
      // what it already buffered: read it, as an SMSC reading its socket would.
      session.resume()
      onClose(st)
    })
    session.on('pdu', (pdu) => onPdu(st, pdu))
    touch(st)
  })

  /** Restarts the idle timer: SMSCs drop binds that stay silent, which enquire_link prevents. */
  function touch(st: SessionState): void {
    clearTimeout(st.idleTimer)
    const ms = options().idleTimeoutMs
    if (ms <= 0) return
    st.idleTimer = setTimeout(() => {
      c().smpp.idleDrops++
      st.session.destroy()
    }, ms)
  }

  function onClose(st: SessionState): void {
    clearTimeout(st.idleTimer)
    states.delete(st.session)
    c().smpp.inFlight -= st.inFlight
    c().smpp.unanswered += st.inFlight
    if (st.bound) c().smpp.boundSessions--
    receipts.closed(st.session)
  }

  function onPdu(st: SessionState, pdu: Pdu): void {
    touch(st)
    if (pdu.isResponse()) return
    const reply = (fields?: PduFields) => st.session.send(pdu.response(fields))
    switch (pdu.command) {
      case 'bind_transceiver':
        onBind(st, pdu)
        return
      case 'bind_transmitter':
      case 'bind_receiver':
        reply({ command_status: SmppStatus.ESME_RBINDFAIL })
        return
      case 'submit_sm':
        onSubmit(st, pdu)
        return
      case 'enquire_link':
        c().smpp.enquireLinks++
        reply()
        return
      case 'unbind':
        st.session.send(pdu.response(), () => st.session.close())
        return
      default:
        st.session.send(
          new smpp.PDU('generic_nack', {
            sequence_number: pdu.sequence_number,
            command_status: SmppStatus.ESME_RINVCMDID,
          }),
        )
    }
  }

  function bindRefusal(st: SessionState, pdu: Pdu): number | undefined {
    const o = options()
    if (st.bound) return SmppStatus.ESME_RALYBND
    if (o.outage) return SmppStatus.ESME_RBINDFAIL
    if (o.systemId !== null && pdu.system_id !== o.systemId) return SmppStatus.ESME_RINVSYSID
    if (o.password !== null && pdu.password !== o.password) return SmppStatus.ESME_RINVPASWD
    return undefined
  }

  function onBind(st: SessionState, pdu: Pdu): void {
    const refusal = bindRefusal(st, pdu)
    if (refusal === SmppStatus.ESME_RALYBND) {
      st.session.send(pdu.response({ command_status: refusal }))
      return
    }
    if (refusal !== undefined) {
      c().smpp.bindsRefused++
      st.session.send(pdu.response({ command_status: refusal }), () => st.session.close())
      return
    }
    st.bound = true
    st.systemId = pdu.system_id ?? ''
    c().smpp.binds++
    c().smpp.boundSessions++
    st.session.send(pdu.response({ system_id: SIM_SYSTEM_ID }))
    receipts.bound(st.systemId)
  }

  function onSubmit(st: SessionState, pdu: Pdu): void {
    c().submitsReceived++
    if (!st.bound) {
      c().rejected.invalid++
      st.session.send(pdu.response({ command_status: SmppStatus.ESME_RINVBNDSTS }))
      return
    }
    counters.recordReceived(readMessageIdTlv(pdu, deps.messageIdTlv) ?? fingerprint(pdu))
    st.inFlight++
    c().smpp.inFlight++
    c().smpp.maxInFlight = Math.max(c().smpp.maxInFlight, st.inFlight)
    const verdict = behavior.decide('smpp')
    timers.after(behavior.latency(), () => {
      if (!states.has(st.session)) return
      st.inFlight--
      c().smpp.inFlight--
      answer(st, pdu, verdict)
    })
  }

  function answer(st: SessionState, pdu: Pdu, verdict: Verdict): void {
    const concat = concatInfo(pdu)
    const messageId = readMessageIdTlv(pdu, deps.messageIdTlv)
    const record: SubmitRecord = {
      protocol: 'smpp',
      ...(messageId === undefined ? {} : { messageId }),
      to: pdu.destination_addr ?? '',
      from: pdu.source_addr ?? '',
      text: decodedText(pdu),
      verdict,
      dataCoding: pdu.data_coding ?? 0,
      esmClass: pdu.esm_class ?? 0,
      ...(concat === undefined ? {} : { concat }),
    }
    if (verdict !== 'accepted') {
      deps.log.add(record)
      c().rejected[verdict]++
      st.session.send(pdu.response({ command_status: REJECTION[verdict] }))
      return
    }
    const carrierId = randomBytes(8).toString('hex')
    c().accepted++
    deps.log.add({ ...record, carrierId })
    // A copy of the message is its first part; later parts of the same copy are not duplicates.
    if ((concat?.seq ?? 1) === 1) counters.recordCopy(messageId ?? fingerprint(pdu))
    st.session.send(pdu.response({ message_id: carrierId }))
    if ((pdu.registered_delivery ?? 0) & 0x03 && options().receipts) {
      const submitted = new Date()
      const outcome = behavior.outcome()
      timers.after(behavior.receiptDelay(), () =>
        receipts.send(st.systemId, st.session, receiptDeliverSm(pdu, carrierId, outcome, submitted)),
      )
    }
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.on('error', reject)
        server.listen(port, host, () => {
          const addr = server.address()
          resolve(typeof addr === 'object' && addr ? addr.port : port)
        })
      })
    },
    async sendInbound(m, concat = 'payload') {
      const st = [...states.values()].find((s) => s.bound)
      if (!st) throw new Error('no bound SMPP session to deliver the inbound message on')
      moRef = (moRef + 1) & 0xff
      const pdus = inboundDeliverSms(smpp, m, concat, moRef)
      await Promise.all(
        pdus.map(
          (fields) =>
            new Promise<void>((resolve, reject) => {
              const sent = st.session.send(new smpp.PDU('deliver_sm', fields), (resp) => {
                if (resp.command_status !== SmppStatus.ESME_ROK) {
                  reject(
                    new Error(`client answered deliver_sm with status 0x${resp.command_status.toString(16)}`),
                  )
                  return
                }
                resolve()
              })
              if (!sent) reject(new Error('session closed before the inbound message was sent'))
            }),
        ),
      )
      c().inboundSent++
    },
    dropSessions() {
      for (const st of states.values()) st.session.destroy()
    },
    close() {
      for (const st of states.values()) st.session.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
