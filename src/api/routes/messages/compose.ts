import type { Static } from '@sinclair/typebox'
import type { RateCache } from '../../../billing/rates.ts'
import { newId, uuidV7Time } from '../../../domain/ids.ts'
import type { NewMessage, Priority } from '../../../domain/message.ts'
import { multiplyMicros } from '../../../domain/money.ts'
import { parseRecipient } from '../../../domain/phone.ts'
import { analyzeBody } from '../../../domain/segments.ts'
import { parseSender } from '../../../domain/sender.ts'
import { parseTimestamp } from '../../../domain/timestamps.ts'
import { type AddressPolicy, refuseUrl } from '../../../events/webhook-address.ts'
import { invalidRequest, unprocessable } from '../../errors.ts'
import type { SendBody } from '../../schemas.ts'

export const MAX_BODY_CHARS = 1600
export const DEFAULT_VALIDITY_S = 36_000
const MAX_SCHEDULE_AHEAD_MS = 7 * 86_400_000
/** A send_at this far in the past is a client clock issue, not a request to send in the past. */
const SEND_AT_PAST_TOLERANCE_MS = 60_000

/** A status_callback_url passes the policy of webhook endpoints, or it could never be delivered. */
export function checkCallbackUrl(url: string, policy: AddressPolicy): void {
  const refused = refuseUrl(url, policy, "'status_callback_url'")
  if (refused) throw invalidRequest(refused, 'status_callback_url')
}

/** When a message is scheduled for (null: now); at most 7 days ahead, not in the past. */
export function parseSendAt(value: string | null | undefined, now: number): Date | null {
  if (!value) return null
  const t = parseTimestamp(value)
  // The schema already checked it; this keeps an unparsable value from ever meaning "now".
  if (t === null) throw invalidRequest("'send_at' must be an RFC 3339 date-time", 'send_at')
  if (t < now - SEND_AT_PAST_TOLERANCE_MS) throw invalidRequest("'send_at' is in the past", 'send_at')
  if (t > now + MAX_SCHEDULE_AHEAD_MS) throw invalidRequest("'send_at' is more than 7 days ahead", 'send_at')
  return t > now ? new Date(t) : null
}

export interface Composed {
  message: NewMessage
  characters: number
}

/**
 * Validates and prices a send request: everything that can be decided without the database
 * (except the rate lookup, which is cached). Throws ApiError with the API.md code.
 */
/** What composing a send (single or batch) needs besides the request. */
export interface ComposeContext {
  customerId: string
  apiKeyId: string | null
  currency: string
  rates: RateCache
  now: number
  /** The operator's webhook address policy (SMSGW_WEBHOOK_ALLOW_INSECURE). */
  callbackPolicy: AddressPolicy
}

/** The body's encoding and segments; `422 body_too_long` past MAX_BODY_CHARS. */
export function analyzedBody(body: string): ReturnType<typeof analyzeBody> {
  const info = analyzeBody(body)
  if (info.characters > MAX_BODY_CHARS) {
    throw unprocessable(
      'body_too_long',
      `Body has ${info.characters} characters; the maximum is ${MAX_BODY_CHARS}`,
      'body',
    )
  }
  return info
}

export async function composeMessage(input: Static<typeof SendBody>, ctx: ComposeContext): Promise<Composed> {
  const info = analyzedBody(input.body)
  const to = parseRecipient(input.to, input.country?.toUpperCase())
  if (!to.ok) {
    throw unprocessable(
      'invalid_phone_number',
      to.reason === 'not_mobile'
        ? "'to' is not a number that can receive SMS"
        : "'to' is not a valid phone number",
      'to',
    )
  }
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
  const rate = await ctx.rates.priceFor(to.country)
  if (rate === undefined) {
    throw unprocessable('destination_not_supported', `No rate for destination country ${to.country}`, 'to')
  }
  const id = newId()
  const createdAt = new Date(uuidV7Time(id) ?? ctx.now)
  const validity = (input.validity_period ?? DEFAULT_VALIDITY_S) * 1000
  const metadata = input.metadata && Object.keys(input.metadata).length > 0 ? input.metadata : null
  return {
    characters: info.characters,
    message: {
      id,
      createdAt,
      customerId: ctx.customerId,
      apiKeyId: ctx.apiKeyId,
      to: to.e164,
      from: from.value,
      body: input.body,
      country: to.country,
      encoding: info.encoding,
      segments: info.segments,
      priceMicros: multiplyMicros(rate, info.segments),
      currency: ctx.currency,
      priority: (input.priority ?? 'normal') as Priority,
      clientReference: input.client_reference ?? null,
      statusCallbackUrl: input.status_callback_url ?? null,
      metadata,
      batchId: null,
      expiresAt: new Date((sendAt?.getTime() ?? createdAt.getTime()) + validity),
      sendAt,
      status: sendAt ? 'scheduled' : 'queued',
    },
  }
}
