// The simulator's SMSC side: accepts bind_transceiver, answers submit_sm, sends receipts and MO as
// deliver_sm. Receipts go to the submitting session, or any session bound with the same system_id,
// or wait for the next bind, as an SMSC's store-and-forward would.

import { createHash, randomBytes } from 'node:crypto'
import { analyzeBody } from '../../domain/segments.ts'
import { SmppStatus } from '../errors.ts'
import { formatReceiptText } from '../smpp/receipt.ts'
import type { Pdu, PduFields, Session, SmppModule, SmppServer } from '../smpp/smpp-types.ts'
import { toAddress } from '../smpp/submit-pdus.ts'
import { readMessageIdTlv } from '../smpp/tlv.ts'
import type { Behavior, Outcome } from './behavior.ts'
import type { CounterStore } from './counters.ts'
import type { SimOptions } from './options.ts'
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
  /** Delivers an MO deliver_sm on a bound session; resolves on the client's deliver_sm_resp. */
  sendInbound(m: { from: string; to: string; body: string }): Promise<void>
  dropSessions(): void
  close(): Promise<void>
}

interface SessionState {
  session: Session
  bound: boolean
  systemId: string
  inFlight: number
  /** Receipts sent on this session and not yet acknowledged; requeued if it closes. */
  awaiting: Set<QueuedReceipt>
  idleTimer?: NodeJS.Timeout
}

interface QueuedReceipt {
  systemId: string
  preferred: Session | undefined
  fields: PduFields
  attempts: number
}

const OUTCOME: Record<Outcome, { stat: string; err: string; state: number }> = {
  delivered: { stat: 'DELIVRD', err: '000', state: 2 },
  undelivered: { stat: 'UNDELIV', err: '001', state: 5 },
  expired: { stat: 'EXPIRED', err: '002', state: 3 },
}
const MAX_QUEUED_RECEIPTS = 100_000
const MAX_RECEIPT_ATTEMPTS = 5
const SIM_SYSTEM_ID = 'smsgw-sim'

function decodedText(pdu: Pdu): string {
  const sm = pdu.short_message
  if (sm === undefined) return ''
  const m = Buffer.isBuffer(sm) ? sm : sm.message
  return typeof m === 'string' ? m : m.toString('latin1')
}

/** Concatenation info from the UDH (IE 0x00 or 0x08) or the SAR TLVs; undefined when not concatenated. */
export function concatInfo(pdu: Pdu): { ref: number; total: number; seq: number } | undefined {
  const sm = pdu.short_message
  if (sm && !Buffer.isBuffer(sm)) {
    for (const ie of sm.udh ?? []) {
      if (ie[0] === 0x00 && ie.length >= 5) return { ref: ie[2]!, total: ie[3]!, seq: ie[4]! }
      if (ie[0] === 0x08 && ie.length >= 6) return { ref: ie.readUInt16BE(2), total: ie[4]!, seq: ie[5]! }
    }
  }
  if (typeof pdu.sar_segment_seqnum === 'number') {
    return { ref: pdu.sar_msg_ref_num ?? 0, total: pdu.sar_total_segments ?? 0, seq: pdu.sar_segment_seqnum }
  }
  return undefined
}

export function createSmppSim(deps: SmppSimDeps): SmppSim {
  const { smpp, options, behavior, counters, timers } = deps
  const states = new Map<Session, SessionState>()
  const queued = new Map<string, QueuedReceipt[]>()
  const c = () => counters.c

  const server: SmppServer = smpp.createServer({}, (session) => {
    const st: SessionState = { session, bound: false, systemId: '', inFlight: 0, awaiting: new Set() }
    states.set(session, st)
    session.socket.setNoDelay(true)
    // A client vanishing mid-write is ordinary for an SMSC; 'close' follows and cleans up.
    session.on('error', () => undefined)
    session.on('close', () => onClose(st))
    session.on('pdu', (pdu) => onPdu(st, pdu))
    touch(st)
  })

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
    if (st.bound) c().smpp.boundSessions--
    for (const r of st.awaiting) enqueue(r)
    st.awaiting.clear()
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

  function onBind(st: SessionState, pdu: Pdu): void {
    const o = options()
    const refuse = (status: number) => {
      c().smpp.bindsRefused++
      st.session.send(pdu.response({ command_status: status }), () => st.session.close())
    }
    if (st.bound) {
      st.session.send(pdu.response({ command_status: SmppStatus.ESME_RALYBND }))
      return
    }
    let refusal: number | undefined
    if (o.outage) refusal = SmppStatus.ESME_RBINDFAIL
    else if (o.systemId !== null && pdu.system_id !== o.systemId) refusal = SmppStatus.ESME_RINVSYSID
    else if (o.password !== null && pdu.password !== o.password) refusal = SmppStatus.ESME_RINVPASWD
    if (refusal !== undefined) {
      refuse(refusal)
      return
    }
    st.bound = true
    st.systemId = pdu.system_id ?? ''
    c().smpp.binds++
    c().smpp.boundSessions++
    st.session.send(pdu.response({ system_id: SIM_SYSTEM_ID }))
    flush(st.systemId)
  }

  function onSubmit(st: SessionState, pdu: Pdu): void {
    c().submitsReceived++
    if (!st.bound) {
      c().rejected.invalid++
      st.session.send(pdu.response({ command_status: SmppStatus.ESME_RINVBNDSTS }))
      return
    }
    st.inFlight++
    c().smpp.inFlight++
    c().smpp.maxInFlight = Math.max(c().smpp.maxInFlight, st.inFlight)
    const verdict = behavior.decide('smpp')
    timers.after(behavior.latency(), () => {
      if (!states.has(st.session)) return
      st.inFlight--
      c().smpp.inFlight--
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
        const status = {
          throttled: SmppStatus.ESME_RTHROTTLED,
          transient: SmppStatus.ESME_RSYSERR,
          permanent: SmppStatus.ESME_RINVDSTADR,
        }[verdict]
        st.session.send(pdu.response({ command_status: status }))
        return
      }
      const carrierId = randomBytes(8).toString('hex')
      c().accepted++
      deps.log.add({ ...record, carrierId })
      if ((concat?.seq ?? 1) === 1) counters.recordCopy(messageId ?? fingerprint(pdu))
      st.session.send(pdu.response({ message_id: carrierId }))
      if ((pdu.registered_delivery ?? 0) & 0x03 && options().receipts) scheduleReceipt(st, pdu, carrierId)
    })
  }

  /** Stands in for our message id when the connector sent no TLV: the first part's addresses and text. */
  function fingerprint(pdu: Pdu): string {
    const fp = createHash('sha1')
      .update(`${pdu.destination_addr}|${pdu.source_addr}|${pdu.data_coding}|${decodedText(pdu)}`)
      .digest('hex')
    return `fp:${fp}`
  }

  function scheduleReceipt(st: SessionState, pdu: Pdu, carrierId: string): void {
    const submitted = new Date()
    const outcome = OUTCOME[behavior.outcome()]
    timers.after(behavior.receiptDelay(), () => {
      const text = formatReceiptText({
        id: carrierId,
        stat: outcome.stat,
        err: outcome.err,
        submitDate: submitted,
        doneDate: new Date(),
        delivered: outcome.stat === 'DELIVRD',
        text: decodedText(pdu).replace(/[^\x20-\x7e]/g, '.'),
      })
      const fields: PduFields = {
        source_addr_ton: pdu.dest_addr_ton ?? 0,
        source_addr_npi: pdu.dest_addr_npi ?? 0,
        source_addr: pdu.destination_addr ?? '',
        dest_addr_ton: pdu.source_addr_ton ?? 0,
        dest_addr_npi: pdu.source_addr_npi ?? 0,
        destination_addr: pdu.source_addr ?? '',
        esm_class: 0x04,
        data_coding: 0,
        short_message: Buffer.from(text, 'latin1'),
        receipted_message_id: carrierId,
        message_state: outcome.state,
      }
      deliver({ systemId: st.systemId, preferred: st.session, fields, attempts: 0 })
    })
  }

  function boundSession(systemId: string, preferred: Session | undefined): SessionState | undefined {
    const p = preferred && states.get(preferred)
    if (p?.bound) return p
    for (const st of states.values()) if (st.bound && st.systemId === systemId) return st
    return undefined
  }

  function deliver(r: QueuedReceipt): void {
    const st = boundSession(r.systemId, r.preferred)
    if (!st) {
      enqueue(r)
      return
    }
    st.awaiting.add(r)
    const sent = st.session.send(new smpp.PDU('deliver_sm', r.fields), (resp) => {
      st.awaiting.delete(r)
      if (resp.command_status === SmppStatus.ESME_ROK) {
        c().receiptsSent++
        return
      }
      // The client could not record it (ESME_RX_T_APPN and the like): try again later.
      r.attempts++
      if (r.attempts >= MAX_RECEIPT_ATTEMPTS) c().receiptsFailed++
      else timers.after(100 * 2 ** r.attempts, () => deliver(r))
    })
    if (!sent) {
      st.awaiting.delete(r)
      enqueue(r)
    }
  }

  function enqueue(r: QueuedReceipt): void {
    const list = queued.get(r.systemId) ?? []
    if (list.length >= MAX_QUEUED_RECEIPTS) {
      c().receiptsFailed++
      return
    }
    r.preferred = undefined
    list.push(r)
    c().receiptsQueued++
    queued.set(r.systemId, list)
  }

  function flush(systemId: string): void {
    const list = queued.get(systemId)
    if (!list) return
    queued.delete(systemId)
    c().receiptsQueued -= list.length
    for (const r of list) deliver(r)
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
    sendInbound(m) {
      const st = [...states.values()].find((s) => s.bound)
      if (!st) return Promise.reject(new Error('no bound SMPP session to deliver the inbound message on'))
      const { encoding, segments } = analyzeBody(m.body)
      const payload =
        encoding === 'GSM-7' ? smpp.encodings.ASCII.encode(m.body) : smpp.encodings.UCS2.encode(m.body)
      const from = toAddress(m.from)
      const to = toAddress(m.to)
      const fields: PduFields = {
        source_addr_ton: from.ton,
        source_addr_npi: from.npi,
        source_addr: from.addr,
        dest_addr_ton: to.ton,
        dest_addr_npi: to.npi,
        destination_addr: to.addr,
        esm_class: 0,
        data_coding: encoding === 'GSM-7' ? 0x00 : 0x08,
        // Longer than one segment: carried whole in message_payload rather than concatenated.
        ...(segments <= 1 ? { short_message: payload } : { message_payload: payload }),
      }
      return new Promise<void>((resolve, reject) => {
        const sent = st.session.send(new smpp.PDU('deliver_sm', fields), (resp) => {
          if (resp.command_status !== SmppStatus.ESME_ROK) {
            reject(new Error(`client answered deliver_sm with status 0x${resp.command_status.toString(16)}`))
            return
          }
          c().inboundSent++
          resolve()
        })
        if (!sent) reject(new Error('session closed before the inbound message was sent'))
      })
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
