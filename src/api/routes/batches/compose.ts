import type { Static } from '@sinclair/typebox'
import type { ScreenRecipients } from '../../../batches/screen.ts'
import type { NewBatch, RejectedRecipient } from '../../../domain/batch.ts'
import { newIdAt } from '../../../domain/ids.ts'
import type { NewMessage, Priority } from '../../../domain/message.ts'
import { multiplyMicros } from '../../../domain/money.ts'
import { parseRecipient } from '../../../domain/phone.ts'
import { analyzeBody, type Encoding } from '../../../domain/segments.ts'
import { parseSender } from '../../../domain/sender.ts'
import { renderTemplate } from '../../../domain/template.ts'
import { invalidRequest, unprocessable } from '../../errors.ts'
import {
  analyzedBody,
  type ComposeContext,
  checkCallbackUrl,
  DEFAULT_VALIDITY_S,
  MAX_BODY_CHARS,
  parseSendAt,
} from '../messages/compose.ts'
import type { BatchBody } from './schemas.ts'

/** Batches go to the bulk lane unless they say otherwise: they must not hold up anyone's OTPs. */
export const DEFAULT_BATCH_PRIORITY: Priority = 'bulk'

export interface ComposedBatch {
  batch: NewBatch
  messages: NewMessage[]
}

interface Valid {
  index: number
  to: string
  country: string
  body: string
  encoding: Encoding
  segments: number
  priceMicros: number
  clientReference: string | null
}

/**
 * Validates and prices a batch: what holds for the whole batch (sender, schedule, callback,
 * template length) fails the request; what concerns one recipient (number, missing parameter,
 * rendered length, destination, screening) rejects that recipient only. Each recipient's body is
 * rendered, then encoded (GSM-7 or UCS-2) and priced on its own.
 */
export async function composeBatch(
  input: Static<typeof BatchBody>,
  ctx: ComposeContext & { screen: ScreenRecipients },
): Promise<ComposedBatch> {
  analyzedBody(input.body)
  const from = parseSender(input.from)
  if (!from) {
    throw unprocessable(
      'invalid_sender',
      "'from' must be an E.164 number, a 3-8 digit short code or an alphanumeric sender id of 1-11 characters",
      'from',
    )
  }
  if (input.status_callback_url) checkCallbackUrl(input.status_callback_url, ctx.callbackPolicy)
  const sendAt = parseSendAt(input.send_at, ctx.now)
  const hint = input.country?.toUpperCase()

  const rejected: RejectedRecipient[] = []
  const reject = (index: number, to: string, code: string, message: string) =>
    rejected.push({ index, to, error: { code, message } })
  const valid: Valid[] = []
  for (const [index, r] of input.recipients.entries()) {
    const to = parseRecipient(r.to, hint)
    if (!to.ok) {
      reject(
        index,
        r.to,
        'invalid_phone_number',
        to.reason === 'not_mobile'
          ? "'to' is not a number that can receive SMS"
          : "'to' is not a valid phone number",
      )
      continue
    }
    const rendered = renderTemplate(input.body, r.params)
    if (!rendered.ok) {
      reject(
        index,
        to.e164,
        'invalid_request',
        `Missing parameter '${rendered.missing}' for \${${rendered.missing}}`,
      )
      continue
    }
    const info = analyzeBody(rendered.body)
    if (info.characters > MAX_BODY_CHARS) {
      reject(
        index,
        to.e164,
        'body_too_long',
        `Body has ${info.characters} characters after templating; the maximum is ${MAX_BODY_CHARS}`,
      )
      continue
    }
    const rate = await ctx.rates.priceFor(to.country)
    if (rate === undefined) {
      reject(index, to.e164, 'destination_not_supported', `No rate for destination country ${to.country}`)
      continue
    }
    valid.push({
      index,
      to: to.e164,
      country: to.country,
      body: rendered.body,
      encoding: info.encoding,
      segments: info.segments,
      priceMicros: multiplyMicros(rate, info.segments),
      clientReference: r.client_reference ?? input.client_reference ?? null,
    })
  }

  const refused = await ctx.screen(ctx.customerId, from.value, valid)
  const accepted = refused.size === 0 ? valid : valid.filter((_, i) => !refused.has(i))
  for (const [i, why] of refused) {
    const v = valid[i]
    if (v) reject(v.index, v.to, why.code, why.message)
  }
  rejected.sort((a, b) => a.index - b.index)
  const first = rejected[0]
  if (accepted.length === 0 && first) {
    // Nothing to send is a bad request, not an empty batch: nothing is stored or charged.
    const message = `No recipient can be sent to: all ${rejected.length} rejected (recipients[${first.index}]: ${first.error.message})`
    if (first.error.code === 'invalid_request')
      throw invalidRequest(message, `recipients[${first.index}].params`)
    throw unprocessable(first.error.code, message, `recipients[${first.index}]`)
  }

  const createdAt = new Date(ctx.now)
  const expiresAt = new Date(
    (sendAt ?? createdAt).getTime() + (input.validity_period ?? DEFAULT_VALIDITY_S) * 1000,
  )
  const priority = (input.priority ?? DEFAULT_BATCH_PRIORITY) as Priority
  const metadata = input.metadata && Object.keys(input.metadata).length > 0 ? input.metadata : null
  const batchId = newIdAt(ctx.now)
  let priceMicros = 0
  const messages = accepted.map((v): NewMessage => {
    priceMicros += v.priceMicros
    return {
      id: newIdAt(ctx.now),
      createdAt,
      customerId: ctx.customerId,
      apiKeyId: ctx.apiKeyId,
      to: v.to,
      from: from.value,
      body: v.body,
      country: v.country,
      encoding: v.encoding,
      segments: v.segments,
      priceMicros: v.priceMicros,
      currency: ctx.currency,
      priority,
      clientReference: v.clientReference,
      statusCallbackUrl: input.status_callback_url ?? null,
      metadata,
      batchId,
      expiresAt,
      sendAt,
      status: sendAt ? 'scheduled' : 'queued',
    }
  })
  return {
    batch: {
      id: batchId,
      customerId: ctx.customerId,
      createdAt,
      from: from.value,
      body: input.body,
      priority,
      clientReference: input.client_reference ?? null,
      sendAt,
      total: input.recipients.length,
      rejected,
      priceMicros,
      currency: ctx.currency,
    },
    messages,
  }
}
