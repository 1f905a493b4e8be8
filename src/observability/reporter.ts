// Where background failures go: every event is counted in a metric and logged, but a burst of the
// same event (a carrier refusing every bind, a database away for a minute) is logged once per
// window with a count of what was folded, never once per message.

import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { SmppCarrierEvent } from '../carriers/smpp/smpp-carrier.ts'
import { createBurstReporter } from '../lib/burst-reporter.ts'

export type ReportLevel = 'error' | 'warn' | 'info' | 'debug'

export interface ReporterOptions {
  logger: Logger
  registry?: Registry
  /** Repeats of one (where, kind) within this window are counted, not logged. Default 10 000 ms. */
  burstMs?: number
}

export interface Reporter {
  /** A failure in a background role (`where`: dispatcher, worker, receipts, …). */
  error(where: string, err: unknown): void
  /** An SMPP link event of one carrier: counted by type, logged at a level that fits it. */
  carrierEvent(carrier: string, e: SmppCarrierEvent): void
  /** Logs the folded counts still pending and stops the timers. */
  close(): void
}

const SMPP_EVENT_LEVEL: Record<SmppCarrierEvent['type'], ReportLevel> = {
  connecting: 'debug',
  bound: 'info',
  bind_failed: 'error',
  disconnected: 'warn',
  reconnect_scheduled: 'debug',
  enquire_link_timeout: 'warn',
  receipt_unreadable: 'warn',
  listener_failed: 'error',
  late_response: 'warn',
}

/** Log fields of an SMPP event: errors under pino's `err`, an unreadable receipt by its size only (its text can hold the message body). */
function smppEventDetail(e: SmppCarrierEvent): Record<string, unknown> {
  switch (e.type) {
    case 'disconnected':
      return e.error ? { err: e.error } : {}
    case 'listener_failed':
      return { err: e.error }
    case 'receipt_unreadable':
      return { rawLength: e.raw.length }
    case 'bind_failed':
      return { status: e.status }
    case 'late_response':
      return { command: e.command, status: e.status }
    case 'connecting':
      return { attempt: e.attempt }
    case 'reconnect_scheduled':
      return { attempt: e.attempt, delayMs: e.delayMs }
    default:
      return {}
  }
}

/** The error's code when it has one (our errors, pg, node), else its class name. */
function kindOf(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code
    const name = (err as { name?: unknown }).name
    if (typeof name === 'string') return name
  }
  return 'unknown'
}

export function createReporter(opts: ReporterOptions): Reporter {
  const burstMs = opts.burstMs ?? 10_000
  const registers = opts.registry ? [opts.registry] : []
  const errors = new Counter({
    name: 'smsgw_background_errors_total',
    help: 'Failures in background roles (dispatcher, worker, receipts, webhooks…), by where and kind',
    labelNames: ['where', 'kind'] as const,
    registers,
  })
  const carrierEvents = new Counter({
    name: 'smsgw_carrier_events_total',
    help: 'SMPP link events per carrier (bound, bind_failed, disconnected, receipt_unreadable…)',
    labelNames: ['carrier', 'type'] as const,
    registers,
  })

  interface Line {
    level: ReportLevel
    msg: string
    fields: Record<string, unknown>
  }
  // The repeat line shows the first event of the folded ones, with how many there were.
  const bursts = createBurstReporter<Line>((_, count, { level, msg, fields }, repeats) => {
    if (repeats) opts.logger[level]({ ...fields, repeated: count, windowMs: burstMs }, `${msg} (repeated)`)
    else opts.logger[level](fields, msg)
  }, burstMs)
  const log = (key: string, level: ReportLevel, fields: Record<string, unknown>, msg: string) =>
    bursts.add(key, { level, msg, fields })

  return {
    error(where, err) {
      const kind = kindOf(err)
      errors.inc({ where, kind })
      log(`error\u0000${where}\u0000${kind}`, 'error', { err, where, kind }, `${where} failed`)
    },
    carrierEvent(carrier, e) {
      carrierEvents.inc({ carrier, type: e.type })
      const type = e.type
      const detail = smppEventDetail(e)
      const level = SMPP_EVENT_LEVEL[type]
      // Routine link events (bound, connecting) are not folded: they are rare and each one matters.
      if (level === 'info' || level === 'debug')
        opts.logger[level]({ carrier, event: type, ...detail }, 'smpp link')
      else
        log(`smpp\u0000${carrier}\u0000${type}`, level, { carrier, event: type, ...detail }, `smpp ${type}`)
    },
    close() {
      bursts.flush()
    },
  }
}

/** The fallback when a component is built without an error hook (tests, embedding): never silent. */
export function stderrReporter(where: string): (err: unknown) => void {
  return (err) => console.error(`smsgw ${where}:`, err)
}
