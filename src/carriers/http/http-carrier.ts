// Generic HTTP JSON carrier: one POST per message; receipts and MO come back through our provider
// endpoints, which hand the JSON to handleReceipt / handleInbound.

import type { InboundMessage, Receipt, SubmitRequest, SubmitResult, WebhookCarrier } from '../carrier.ts'
import { PermanentCarrierError, ThrottledError, TransientCarrierError } from '../errors.ts'
import { createListeners } from '../listeners.ts'
import { parseHttpInbound, parseHttpReceipt, parseSubmitResponse } from './payloads.ts'

export { parseHttpInbound, parseHttpReceipt, parseSubmitResponse } from './payloads.ts'

export interface HttpCarrierConfig {
  name: string
  url: string
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string
  /** Per-request timeout, ms. Default 10 000. */
  timeoutMs?: number
  /** Consecutive transient failures after which healthy() turns false until a success. Default 5. */
  unhealthyAfter?: number
  /** Largest response body read, bytes; a longer one is cut off and the submit fails as transient. Default 64 KiB. */
  maxResponseBytes?: number
}

/** A response body longer than the carrier may send us. */
class ResponseTooLargeError extends Error {}

/**
 * The body as text, reading at most `max` bytes: a carrier (or whatever answers at its URL) cannot
 * make us buffer megabytes. Beyond it the stream is cancelled, which drops the connection.
 */
async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN)
  if (declared > max) {
    await res.body?.cancel()
    throw new ResponseTooLargeError(`response body of ${declared} bytes exceeds ${max}`)
  }
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel()
      throw new ResponseTooLargeError(`response body exceeds ${max} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Retry-After as seconds or an HTTP date, in ms. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined
  const s = header.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  const at = Date.parse(s)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function describe(status: number, text: string): string {
  return `carrier answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`
}

export function createHttpCarrier(cfg: HttpCarrierConfig): WebhookCarrier {
  const { name } = cfg
  const timeoutMs = cfg.timeoutMs ?? 10_000
  const unhealthyAfter = cfg.unhealthyAfter ?? 5
  const maxResponseBytes = cfg.maxResponseBytes ?? 64 * 1024
  const receipts = createListeners<Receipt>()
  const inbound = createListeners<InboundMessage>()
  const closing = new AbortController()
  let consecutiveFailures = 0

  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' }
  if (cfg.apiKey) headers['authorization'] = `Bearer ${cfg.apiKey}`

  /** The timeout covers the whole exchange (headers and body); the caller calls `done()` after reading. */
  async function post(
    req: SubmitRequest,
  ): Promise<{ res: Response; done: () => void; timedOut: () => boolean }> {
    const payload: Record<string, unknown> = {
      id: req.messageId,
      to: req.to,
      from: req.from,
      body: req.body,
      encoding: req.encoding,
    }
    if (req.validityPeriodS !== undefined) payload['validity_period'] = req.validityPeriodS
    // Not AbortSignal.any([AbortSignal.timeout(…), …]): on Node 20 the timeout signal inside a
    // composite one can be garbage-collected before it fires (nodejs/node#57736), and the submit
    // then waits for the carrier however long it takes (seen: 60 s instead of 200 ms, 1 run in 25).
    const abort = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      abort.abort()
    }, timeoutMs)
    const onClose = () => abort.abort()
    closing.signal.addEventListener('abort', onClose, { once: true })
    const done = () => {
      clearTimeout(timer)
      closing.signal.removeEventListener('abort', onClose)
    }
    try {
      const res = await fetch(cfg.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
        signal: abort.signal,
      })
      return { res, done, timedOut: () => timedOut }
    } catch (cause) {
      done()
      throw new TransientCarrierError(
        timedOut ? `no response within ${timeoutMs} ms` : 'could not reach carrier',
        {
          code: timedOut ? 'timeout' : closing.signal.aborted ? 'carrier_closed' : 'connection_failed',
          carrier: name,
          cause,
        },
      )
    }
  }

  async function submit(req: SubmitRequest): Promise<SubmitResult> {
    if (closing.signal.aborted) {
      // Nothing was sent: the worker may drop its `submitting` mark (as it does for SMPP's).
      throw new TransientCarrierError('carrier connector closed', {
        code: 'carrier_closed',
        carrier: name,
        unsent: true,
      })
    }
    const { res, done, timedOut } = await post(req)
    // Always read the body (an unread body holds the keep-alive connection), but only so much of it.
    let text: string
    try {
      text = await readCapped(res, maxResponseBytes)
    } catch (cause) {
      if (timedOut())
        throw new TransientCarrierError(`no complete response within ${timeoutMs} ms`, {
          code: 'timeout',
          carrier: name,
          cause,
        })
      if (cause instanceof ResponseTooLargeError) {
        // Like a 2xx without carrier ids: we cannot tell what the carrier did; it has our id.
        throw new TransientCarrierError(`carrier answered HTTP ${res.status}: ${cause.message}`, {
          code: 'invalid_response',
          carrier: name,
          carrierStatus: res.status,
          cause,
        })
      }
      throw new TransientCarrierError('response body was cut off', {
        code: 'connection_failed',
        carrier: name,
        cause,
      })
    } finally {
      done()
    }
    const opts = { carrier: name, carrierStatus: res.status }
    if (res.status === 429) {
      const after = retryAfterMs(res.headers.get('retry-after'))
      throw new ThrottledError(
        describe(res.status, text),
        after === undefined ? opts : { ...opts, retryAfterMs: after },
      )
    }
    if (res.status >= 500 || res.status === 408) {
      throw new TransientCarrierError(describe(res.status, text), { ...opts, code: 'carrier_error' })
    }
    if (res.status >= 400) {
      throw new PermanentCarrierError(describe(res.status, text), { ...opts, code: 'rejected' })
    }
    if (res.status < 200 || res.status >= 300) {
      throw new TransientCarrierError(describe(res.status, text), { ...opts, code: 'invalid_response' })
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    const carrierIds = parseSubmitResponse(json)
    // The carrier probably took it but we cannot track it; retrying is safe because it got our id.
    if (!carrierIds) {
      throw new TransientCarrierError(`2xx response without carrier_id(s): ${text.slice(0, 200)}`, {
        ...opts,
        code: 'invalid_response',
      })
    }
    return { carrierIds }
  }

  return {
    name,
    async submit(req) {
      try {
        const result = await submit(req)
        consecutiveFailures = 0
        return result
      } catch (err) {
        if (err instanceof TransientCarrierError) consecutiveFailures++
        else consecutiveFailures = 0
        throw err
      }
    },
    onReceipt(fn) {
      receipts.add(fn)
    },
    onInbound(fn) {
      inbound.add(fn)
    },
    async handleReceipt(json) {
      const receipt = parseHttpReceipt(json)
      await receipts.emit(receipt)
      return receipt
    },
    async handleInbound(json) {
      const message = parseHttpInbound(json)
      await inbound.emit(message)
      return message
    },
    healthy() {
      return !closing.signal.aborted && consecutiveFailures < unhealthyAfter
    },
    async close() {
      closing.abort()
    },
  }
}
