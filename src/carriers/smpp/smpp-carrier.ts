// SMPP 3.4 ESME client: one bind_transceiver, a window of outstanding submit_sm, enquire_link, and
// reconnect + rebind with exponential backoff. Receipts and MO arrive as deliver_sm on the same bind.

import { type BackoffOptions, backoffDelay } from '../../domain/backoff.ts'
import type {
  Carrier,
  InboundMessage,
  Receipt,
  SubmitOptions,
  SubmitRequest,
  SubmitResult,
} from '../carrier.ts'
import {
  errorForSmppStatus,
  isCarrierError,
  PermanentCarrierError,
  SmppStatus,
  TransientCarrierError,
  UnconfirmedSubmitError,
} from '../errors.ts'
import { createListeners } from '../listeners.ts'
import { corkUntilTickEnd } from './cork.ts'
import { handleDeliverSm } from './deliver-sm.ts'
import { createGsmCodec } from './gsm-codec.ts'
import { createRequests } from './requests.ts'
import { loadSmpp, type Pdu, type PduFields, type Session } from './smpp-types.ts'
import { createStallClock } from './stall-clock.ts'
import { buildSubmitSms } from './submit-pdus.ts'
import { registerMessageIdTlv, SMSGW_MESSAGE_ID_TLV } from './tlv.ts'
import { createWindow } from './window.ts'

export interface SmppCarrierConfig {
  name: string
  host: string
  port: number
  systemId: string
  password: string
  /** Default ''. */
  systemType?: string
  /** Outstanding submit_sm on the bind; callers beyond it wait. Default 10. */
  window?: number
  /** enquire_link period, ms; 0 disables. Default 30 000. */
  enquireLinkMs?: number
  /**
   * Wait for any response (connect, bind, submit_sm, enquire_link), ms, counted from the write and
   * not counting time our event loop was stalled. A submit_sm left unanswered fails with
   * UnconfirmedSubmitError (never resent). Default 10 000.
   */
  responseTimeoutMs?: number
  /** Reconnect backoff. Defaults: 500 ms doubling to 30 s, with jitter. */
  reconnect?: BackoffOptions
  /** Vendor TLV tag carrying our message id on submit_sm, or false to send none. Default 0x1400. */
  messageIdTlv?: number | false
  /** Link lifecycle, for logs and metrics. Must not throw. */
  onEvent?: (e: SmppCarrierEvent) => void
}

export type SmppCarrierEvent =
  | { type: 'connecting'; attempt: number }
  | { type: 'bound' }
  | { type: 'bind_failed'; status: number }
  | { type: 'disconnected'; error?: Error }
  | { type: 'reconnect_scheduled'; attempt: number; delayMs: number }
  | { type: 'enquire_link_timeout' }
  | { type: 'receipt_unreadable'; raw: string }
  | { type: 'listener_failed'; error: unknown }
  /** A response to a request we had stopped waiting for: the carrier is slower than responseTimeoutMs. */
  | { type: 'late_response'; command: string; status: number }

export interface SmppCarrier extends Carrier {
  stats(): { bound: boolean; inFlight: number; waiting: number }
}

const SMPP_VERSION_34 = 0x34
const UNBIND_WAIT_MS = 1000
/** Retries of a later part of a multipart message (the carrier already holds the earlier ones). */
const PART_RETRIES = 4

export function createSmppCarrier(cfg: SmppCarrierConfig): SmppCarrier {
  const smpp = loadSmpp()
  const gsm = createGsmCodec(smpp)
  const { name } = cfg
  const responseTimeoutMs = cfg.responseTimeoutMs ?? 10_000
  const enquireLinkMs = cfg.enquireLinkMs ?? 30_000
  const messageIdField =
    cfg.messageIdTlv === false
      ? undefined
      : registerMessageIdTlv(smpp, cfg.messageIdTlv ?? SMSGW_MESSAGE_ID_TLV)
  const window = createWindow(cfg.window ?? 10)
  const receipts = createListeners<Receipt>()
  const inbound = createListeners<InboundMessage>()
  const clock = createStallClock()
  const requests = createRequests({ smpp, timeoutMs: responseTimeoutMs, carrier: name, clock })
  const request = requests.send

  let session: Session | null = null
  let bound = false
  let closed = false
  let attempt = 0
  let concatRef = Math.floor(Math.random() * 256)
  let reconnectTimer: NodeJS.Timeout | undefined
  let enquireTimer: NodeJS.Timeout | undefined

  const emit = (e: SmppCarrierEvent) => cfg.onEvent?.(e)
  const notBound = () =>
    new TransientCarrierError('not bound to carrier', { code: 'not_bound', carrier: name, unsent: true })

  function connect(): void {
    reconnectTimer = undefined
    if (closed) return
    emit({ type: 'connecting', attempt })
    const s = smpp.connect({ host: cfg.host, port: cfg.port })
    session = s
    let lastError: Error | undefined
    // Pipelined small PDUs: with Nagle on, submit_sm 2..n wait for the SMSC's delayed ACK (~40 ms).
    s.socket.setNoDelay(true)
    // Covers a TCP connect that hangs; cleared once bound (enquire_link watches the link after that).
    s.socket.setTimeout(responseTimeoutMs, () => s.socket.destroy(new Error('connect timed out')))
    s.on('error', (err) => {
      lastError = err
      // The library stops reading after a PDU it cannot parse; only a new connection recovers.
      s.socket.destroy()
    })
    s.on('close', () => onClose(s, lastError))
    s.on('connect', () => void bind(s))
    s.on('pdu', (pdu) => onPdu(s, pdu))
  }

  async function bind(s: Session): Promise<void> {
    let resp: Pdu
    try {
      resp = await request(s, 'bind_transceiver', {
        system_id: cfg.systemId,
        password: cfg.password,
        system_type: cfg.systemType ?? '',
        interface_version: SMPP_VERSION_34,
      })
    } catch (err) {
      // Timed out or the link dropped mid-bind: the close handler reconnects with backoff.
      s.socket.destroy(err instanceof Error ? err : undefined)
      return
    }
    if (session !== s) return
    if (resp.command_status !== SmppStatus.ESME_ROK) {
      emit({ type: 'bind_failed', status: resp.command_status })
      s.destroy()
      return
    }
    s.socket.setTimeout(0)
    bound = true
    attempt = 0
    startEnquireLink(s)
    emit({ type: 'bound' })
  }

  function startEnquireLink(s: Session): void {
    if (enquireLinkMs <= 0) return
    let waiting = false
    enquireTimer = setInterval(() => {
      if (waiting || session !== s) return
      waiting = true
      request(s, 'enquire_link', {}).then(
        () => {
          waiting = false
        },
        (err: unknown) => {
          waiting = false
          // A dead link that still looks open: drop it so the close handler rebinds. Any other
          // failure means the link already closed, which the close handler has dealt with.
          if (session === s && isCarrierError(err) && err.code === 'timeout') {
            emit({ type: 'enquire_link_timeout' })
            s.destroy()
          }
        },
      )
    }, enquireLinkMs)
  }

  function onClose(s: Session, error: Error | undefined): void {
    if (session !== s) return
    session = null
    bound = false
    clearInterval(enquireTimer)
    const err = new TransientCarrierError(
      closed ? 'carrier connector closed' : 'connection to carrier lost',
      {
        code: closed ? 'carrier_closed' : 'connection_lost',
        carrier: name,
        cause: error,
      },
    )
    requests.failSession(s, err)
    // Waiting for a window slot, nothing of theirs was written.
    window.rejectWaiters(
      new TransientCarrierError(err.message, { code: err.code, carrier: name, cause: error, unsent: true }),
    )
    emit(error ? { type: 'disconnected', error } : { type: 'disconnected' })
    if (closed) return
    attempt++
    const delayMs = backoffDelay(attempt, cfg.reconnect)
    emit({ type: 'reconnect_scheduled', attempt, delayMs })
    reconnectTimer = setTimeout(connect, delayMs)
  }

  function onPdu(s: Session, pdu: Pdu): void {
    if (pdu.isResponse()) {
      if (requests.onResponse(s, pdu) === 'late')
        emit({ type: 'late_response', command: pdu.command, status: pdu.command_status })
      return
    }
    switch (pdu.command) {
      case 'deliver_sm':
        onDeliver(s, pdu)
        return
      case 'enquire_link':
        s.send(pdu.response())
        return
      case 'unbind':
        bound = false
        s.send(pdu.response(), () => s.close())
        return
      case 'alert_notification':
        return
      default:
        s.send(
          new smpp.PDU('generic_nack', {
            sequence_number: pdu.sequence_number,
            command_status: SmppStatus.ESME_RINVCMDID,
          }),
        )
    }
  }

  function onDeliver(s: Session, pdu: Pdu): void {
    // Answered only once the listeners have recorded it: a crash before then means no resp, so
    // the SMSC redelivers the receipt on the next bind instead of it being lost.
    void handleDeliverSm(pdu, {
      gsm,
      receipts,
      inbound,
      onUnreadableReceipt: (raw) => emit({ type: 'receipt_unreadable', raw }),
      onListenerFailed: (error) => emit({ type: 'listener_failed', error }),
    }).then((status) => {
      corkUntilTickEnd(s.socket)
      s.send(pdu.response(status === SmppStatus.ESME_ROK ? {} : { command_status: status }))
    })
  }

  async function submitPart(fields: PduFields, beforeWrite?: () => Promise<void>): Promise<string> {
    await window.acquire()
    try {
      if (!session || !bound) throw notBound()
      await beforeWrite?.()
      const s = session
      if (!s || !bound) throw notBound()
      const resp = await request(s, 'submit_sm', fields, { unconfirmedWhenLost: true })
      if (resp.command_status !== SmppStatus.ESME_ROK)
        throw errorForSmppStatus(resp.command_status, 'submit_sm', name)
      // Taken (ESME_ROK) but untrackable: sending it again would duplicate it.
      if (!resp.message_id)
        throw new UnconfirmedSubmitError('submit_sm_resp carried no message_id', {
          code: 'invalid_response',
          carrier: name,
        })
      return resp.message_id
    } finally {
      window.release()
    }
  }

  connect()

  return {
    name,
    callsBeforeWrite: true,
    async submit(req: SubmitRequest, opts: SubmitOptions = {}): Promise<SubmitResult> {
      if (closed)
        throw new TransientCarrierError('carrier connector closed', {
          code: 'carrier_closed',
          carrier: name,
          unsent: true,
        })
      if (!bound) throw notBound()
      let parts: PduFields[]
      try {
        concatRef = (concatRef + 1) & 0xff
        parts = buildSubmitSms(req, {
          concatRef,
          gsm,
          ucs2: smpp.encodings.UCS2,
          ...(messageIdField ? { messageIdField } : {}),
        })
      } catch (cause) {
        throw new PermanentCarrierError('message cannot be encoded', {
          code: 'invalid_message',
          carrier: name,
          cause,
        })
      }
      if (parts.length === 0) {
        throw new PermanentCarrierError('message body is empty', { code: 'invalid_message', carrier: name })
      }
      const carrierIds: string[] = []
      // Parts go in order and stop at the first failure, so a broken link orphans as few parts as
      // possible. Once the carrier holds a part, the message can no longer be sent again whole:
      // a later part that is throttled or hits a transient error is retried on its own first.
      for (const fields of parts) {
        for (let attempt = 1; ; attempt++) {
          try {
            carrierIds.push(await submitPart(fields, carrierIds.length === 0 ? opts.beforeWrite : undefined))
            break
          } catch (err) {
            // A part that may have reached the carrier (unconfirmed) is never sent again.
            const retryable =
              isCarrierError(err) && (err.kind === 'transient' || err.kind === 'throttled') && !closed
            if (carrierIds.length > 0 && retryable && attempt <= PART_RETRIES) {
              await new Promise((r) => setTimeout(r, backoffDelay(attempt, { initialMs: 250, maxMs: 2000 })))
              continue
            }
            if (isCarrierError(err)) err.acceptedCarrierIds = [...carrierIds]
            throw err
          }
        }
      }
      return { carrierIds }
    },
    onReceipt(fn) {
      receipts.add(fn)
    },
    onInbound(fn) {
      inbound.add(fn)
    },
    healthy() {
      return bound && !closed
    },
    stats() {
      return { bound, inFlight: window.inUse, waiting: window.waiting }
    },
    async close() {
      if (closed) return
      closed = true
      clearTimeout(reconnectTimer)
      clock.close()
      const s = session
      if (!s) {
        window.rejectWaiters(
          new TransientCarrierError('carrier connector closed', {
            code: 'carrier_closed',
            carrier: name,
            unsent: true,
          }),
        )
        return
      }
      if (bound) {
        // Best effort, and bounded so shutdown never waits on a silent SMSC: the socket is torn
        // down next whether or not it answers.
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          request(s, 'unbind', {}).catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.min(responseTimeoutMs, UNBIND_WAIT_MS))
          }),
        ])
        clearTimeout(timer)
      }
      if (session !== s) return
      await new Promise<void>((resolve) => {
        s.on('close', () => resolve())
        s.destroy()
      })
    },
  }
}
