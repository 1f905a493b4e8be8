import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Biller } from '../../../billing/biller.ts'
import type { RateCache } from '../../../billing/rates.ts'
import type { Screener } from '../../../compliance/screen.ts'
import type { Db } from '../../../db/db.ts'
import { isUuid, uuidV7Time } from '../../../domain/ids.ts'
import { parseRecipient } from '../../../domain/phone.ts'
import { STATUSES } from '../../../domain/status.ts'
import { parseTimestamp } from '../../../domain/timestamps.ts'
import type { AddressPolicy } from '../../../events/webhook-address.ts'
import { messageObject, money } from '../../../messages/message-object.ts'
import { findMessage, listMessages, messageEvents } from '../../../messages/messages-repository.ts'
import type { Tracing } from '../../../observability/tracing.ts'
import { ApiError, invalidRequest, notFound, sendJsonText, unprocessable } from '../../errors.ts'
import { idempotencyOf } from '../../idempotency-key.ts'
import type { ApiMetrics } from '../../metrics.ts'
import { decodeCursor, page } from '../../pagination.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { principalOf } from '../../plugins/auth.ts'
import { Accepted, ErrorBody, ListQuery, listOf, MessageObject, SendBody } from '../../schemas.ts'
import { composeMessage } from './compose.ts'
import type { SendLimiter } from './send-limit.ts'

export interface MessagesRouteDeps {
  db: Db
  /** Where message lists read (DATABASE_READ_URL; default db). Single messages read the primary. */
  readDb?: Db
  biller: Biller
  rates: RateCache
  auth: Authenticator
  metrics: ApiMetrics
  limit: SendLimiter
  /** The address policy of webhooks, applied to status_callback_url at submit. */
  callbackPolicy: AddressPolicy
  /** Opt-outs and sender rules (src/compliance); absent: nothing is screened. */
  screener?: Screener
  onAccepted?: () => void
  tracing: Tracing
}

/** Filters with no index behind them (`status`, `from`, `batch_id`) scan at most this much time. */
export const FILTER_WINDOW_MS = 31 * 86_400_000

/** A query timestamp the schema already checked (parseTimestamp is the schema's format too). */
function timestampParam(value: string | undefined, param: string): number | undefined {
  if (value === undefined) return undefined
  const t = parseTimestamp(value)
  if (t === null) throw invalidRequest(`'${param}' must be an RFC 3339 date-time`, param)
  return t
}

/**
 * The created_at range a list may scan. Unfiltered, `to` and `client_reference` lists walk an
 * index newest first and stop at `limit`; the other filters would read a tenant's whole history,
 * so they are held to FILTER_WINDOW_MS (by default the last 31 days before created_before/now).
 */
function scanRange(
  q: { created_after?: string; created_before?: string; status?: string; from?: string; batch_id?: string },
  now: number,
): { after?: Date; before?: Date } {
  const after = timestampParam(q.created_after, 'created_after')
  const before = timestampParam(q.created_before, 'created_before')
  if (q.status === undefined && q.from === undefined && q.batch_id === undefined) {
    return {
      after: after === undefined ? undefined : new Date(after),
      before: before === undefined ? undefined : new Date(before),
    }
  }
  const end = before ?? now
  if (after !== undefined && end - after > FILTER_WINDOW_MS) {
    throw invalidRequest(
      "A list filtered by 'status', 'from' or 'batch_id' spans at most 31 days: narrow created_after..created_before",
      'created_after',
    )
  }
  return {
    after: new Date(after ?? end - FILTER_WINDOW_MS),
    before: before === undefined ? undefined : new Date(before),
  }
}
const Event = Type.Object({ status: Type.String(), created_at: Type.String(), detail: Type.Any() })

export const messagesRoutes: FastifyPluginAsyncTypebox<MessagesRouteDeps> = async (app, deps) => {
  const { db, biller, rates, auth, metrics, limit, callbackPolicy } = deps
  app.addHook('onRequest', auth.customer)

  app.post(
    '/v1/messages',
    {
      schema: {
        summary: 'Send one message',
        tags: ['messages'],
        body: SendBody,
        response: { 202: Accepted, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const p = principalOf(request)
      await limit(p, reply)
      const idempotency = idempotencyOf(request)
      const { message } = await composeMessage(request.body, {
        customerId: p.customerId,
        apiKeyId: p.keyId,
        currency: p.currency,
        rates,
        now: Date.now(),
        callbackPolicy,
      })
      const screening = await deps.screener?.screen(p.customerId, message.from, [message])
      const refusal = screening?.sender ?? screening?.recipients[0]
      if (refusal) throw unprocessable(refusal.code, refusal.message, refusal.param)
      const traceParent = deps.tracing.acceptStarted(request, message.id)
      if (traceParent) message.traceParent = traceParent
      const outcome = await deps.tracing.acceptCommit(
        request,
        message.id,
        biller.accept({ message, idempotency }),
      )
      switch (outcome.kind) {
        case 'accepted':
          metrics.accepted.inc({ priority: message.priority })
          deps.onAccepted?.()
          return sendJsonText(reply, outcome.statusCode, outcome.body)
        case 'replayed':
          reply.header('idempotent-replayed', 'true')
          return sendJsonText(reply, outcome.statusCode, outcome.body)
        case 'insufficient_balance':
          throw new ApiError(
            402,
            'insufficient_balance',
            `Balance ${money(outcome.balanceMicros, p.currency).amount} ${p.currency} does not cover the price ${money(outcome.priceMicros, p.currency).amount} ${p.currency}`,
          )
        case 'idempotency_key_reused':
          throw new ApiError(
            422,
            'idempotency_key_reused',
            'Idempotency-Key was already used with a different request',
          )
        case 'customer_not_found':
          throw new ApiError(401, 'unauthenticated', 'Invalid or revoked API key')
      }
    },
  )

  app.post(
    '/v1/messages/preview',
    {
      schema: {
        summary: 'Encoding, segments and price of a message; nothing is sent or charged',
        tags: ['messages'],
        body: SendBody,
        response: {
          200: Type.Object({
            to: Type.String(),
            country: Type.String(),
            encoding: Type.String(),
            segments: Type.Integer(),
            characters: Type.Integer(),
            price: Type.Object({ amount: Type.String(), currency: Type.String() }),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const { message, characters } = await composeMessage(request.body, {
        customerId: p.customerId,
        apiKeyId: p.keyId,
        currency: p.currency,
        rates,
        now: Date.now(),
        callbackPolicy,
      })
      return {
        to: message.to,
        country: message.country,
        encoding: message.encoding,
        segments: message.segments,
        characters,
        price: money(message.priceMicros, message.currency),
      }
    },
  )

  app.get(
    '/v1/messages/:id',
    {
      schema: {
        summary: 'A message with its status timeline',
        tags: ['messages'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Composite([MessageObject, Type.Object({ events: Type.Array(Event) })]),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const id = request.params.id.toLowerCase()
      const m = isUuid(id) ? await findMessage(db, p.customerId, id) : undefined
      if (!m) throw notFound('message')
      const later = await messageEvents(db, m)
      const accepted = {
        status: m.sendAt ? 'scheduled' : 'queued',
        created_at: m.createdAt.toISOString(),
        detail: null,
      }
      return {
        ...messageObject(m),
        events: [
          accepted,
          ...later.map((e) => ({
            status: e.status,
            created_at: e.createdAt.toISOString(),
            detail: e.detail,
          })),
        ],
      }
    },
  )

  app.get(
    '/v1/messages',
    {
      schema: {
        summary: 'List messages, newest first',
        tags: ['messages'],
        querystring: Type.Object(
          {
            ...ListQuery,
            status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
            to: Type.Optional(Type.String({ maxLength: 64 })),
            from: Type.Optional(Type.String({ maxLength: 64 })),
            client_reference: Type.Optional(Type.String({ maxLength: 128 })),
            batch_id: Type.Optional(Type.String({ format: 'uuid' })),
            created_after: Type.Optional(Type.String({ format: 'date-time' })),
            created_before: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(MessageObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const q = request.query
      const limit = q.limit ?? 50
      const range = scanRange(q, Date.now())
      const before = decodeCursor(q.cursor, (k) => isUuid(k) && uuidV7Time(k) !== null)
      let to: string | undefined
      if (q.to) {
        const parsed = parseRecipient(q.to)
        if (!parsed.ok) throw invalidRequest("'to' is not a valid E.164 number", 'to')
        to = parsed.e164
      }
      const rows = await listMessages(
        deps.readDb ?? db,
        p.customerId,
        {
          status: q.status,
          to,
          from: q.from,
          clientReference: q.client_reference,
          batchId: q.batch_id,
          createdAfter: range.after,
          createdBefore: range.before,
          before,
        },
        limit + 1,
      )
      return page(rows, limit, (m) => m.id, messageObject)
    },
  )
}
