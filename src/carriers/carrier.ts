// The Carrier port: what the delivery worker sees of an upstream SMS network, whatever the protocol.
// Adapters (smpp/, http/) implement it; core code never imports a protocol library.

import type { Encoding } from '../domain/segments.ts'

export interface SubmitRequest {
  /** Our message id; carriers that can carry it (HTTP `id`, SMPP vendor TLV) send it for de-duplication. */
  messageId: string
  to: string
  from: string
  body: string
  encoding: Encoding
  /** Expected segment count, informational: the adapter splits the body itself. */
  parts?: number
  validityPeriodS?: number
  registeredDelivery: boolean
}

export interface SubmitOptions {
  /**
   * Awaited once, right before the first byte of the message leaves for the carrier (after any
   * window wait); a rejection abandons the submit unsent. The worker commits its `submitting`
   * mark here, so a crash leaves that mark only on messages that may really have been sent.
   * Only adapters with `callsBeforeWrite` call it.
   */
  beforeWrite?: () => Promise<void>
}

export interface SubmitResult {
  /** One per submitted part, in part order (an HTTP carrier may return one for the whole message). */
  carrierIds: string[]
}

export type ReceiptStatus = 'delivered' | 'undelivered' | 'expired' | 'rejected' | 'unknown' | 'accepted'

export interface Receipt {
  carrierId: string
  status: ReceiptStatus
  errorCode?: string
  doneAt?: Date
  raw?: string
}

export interface InboundMessage {
  from: string
  to: string
  body: string
  receivedAt: Date
  /** One part of a concatenated message (UDH or SAR): the receiver reassembles the parts. */
  part?: { ref: number; total: number; seq: number }
}

export interface Carrier {
  readonly name: string
  /** Resolves once the carrier took every part; rejects with a CarrierError (see errors.ts). */
  submit(req: SubmitRequest, opts?: SubmitOptions): Promise<SubmitResult>
  /** True when submit awaits `opts.beforeWrite`; otherwise the caller does its part first. */
  readonly callsBeforeWrite?: boolean
  /** The carrier acknowledges a receipt only after fn resolves; a rejection makes it redeliver. */
  onReceipt(fn: (r: Receipt) => unknown): void
  onInbound(fn: (m: InboundMessage) => unknown): void
  healthy(): boolean
  close(): Promise<void>
}

/**
 * A carrier that reports receipts and MO by calling our API (`POST /v1/providers/{provider}/dlr` and
 * `/inbound`) rather than over its own connection. The route hands the parsed JSON body here; invalid
 * payloads throw CarrierPayloadError.
 */
export interface WebhookCarrier extends Carrier {
  /** Parses and hands to the listeners; resolves once they have recorded it. */
  handleReceipt(json: unknown): Promise<Receipt>
  handleInbound(json: unknown): Promise<InboundMessage>
}

export function acceptsWebhooks(c: Carrier): c is WebhookCarrier {
  const w = c as Partial<WebhookCarrier>
  return typeof w.handleReceipt === 'function' && typeof w.handleInbound === 'function'
}
