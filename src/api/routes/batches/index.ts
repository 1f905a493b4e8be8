import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { batchObject, countByStatus, findBatch } from '../../../batches/batches-repository.ts'
import { type ScreenRecipients, screenNone } from '../../../batches/screen.ts'
import type { Biller } from '../../../billing/biller.ts'
import type { RateCache } from '../../../billing/rates.ts'
import type { Db } from '../../../db/db.ts'
import type { AddressPolicy } from '../../../events/webhook-address.ts'
import { cancelMessages } from '../../../messages/cancel.ts'
import { money } from '../../../messages/message-object.ts'
import { ApiError, notFound, sendJsonText } from '../../errors.ts'
import { idempotencyOf } from '../../idempotency-key.ts'
import type { ApiMetrics } from '../../metrics.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { principalOf } from '../../plugins/auth.ts'
import { ErrorBody } from '../../schemas.ts'
import type { SendLimiter } from '../messages/send-limit.ts'
import { composeBatch } from './compose.ts'
import { BatchBody, BatchObject, BatchWithCounts, CanceledBatch } from './schemas.ts'

export interface BatchRouteDeps {
  db: Db
  biller: Biller
  rates: RateCache
  auth: Authenticator
  metrics: ApiMetrics
  limit: SendLimiter
  callbackPolicy: AddressPolicy
  /** Per-recipient screening (opt-outs, sender rules); default: refuses nobody. */
  screen?: ScreenRecipients
  onAccepted?: () => void
}

/** 10,000 recipients with params and client references fit in this (the default limit is 1 MiB). */
export const BATCH_BODY_LIMIT = 8 * 1024 * 1024

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) })

export const batchRoutes: FastifyPluginAsyncTypebox<BatchRouteDeps> = async (app, deps) => {
  const { db, biller, rates, auth, metrics, limit, callbackPolicy } = deps
  const screen = deps.screen ?? screenNone
  app.addHook('onRequest', auth.customer)

  const batchOf = async (customerId: string, rawId: string) => {
    const b = await findBatch(db, customerId, rawId.toLowerCase())
    if (!b) throw notFound('batch')
    return b
  }

  app.post(
    '/v1/batches',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        summary: 'Send one templated body to up to 10,000 recipients, charged all or nothing',
        tags: ['batches'],
        body: BatchBody,
        response: { 202: BatchObject, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const p = principalOf(request)
      // One request of the send budget; its messages are released at the customer's rate.
      await limit(p, reply)
      const idempotency = idempotencyOf(request)
      const { batch, messages } = await composeBatch(request.body, {
        customerId: p.customerId,
        apiKeyId: p.keyId,
        currency: p.currency,
        rates,
        now: Date.now(),
        callbackPolicy,
        screen,
      })
      const response = {
        statusCode: 202,
        body: JSON.stringify(batchObject({ ...batch, accepted: messages.length, completedAt: null })),
      }
      const outcome = await biller.acceptBulk({ batch, messages, idempotency, response })
      switch (outcome.kind) {
        case 'accepted':
          metrics.accepted.inc({ priority: batch.priority }, messages.length)
          deps.onAccepted?.()
          return sendJsonText(reply, outcome.statusCode, outcome.body)
        case 'replayed':
          reply.header('idempotent-replayed', 'true')
          return sendJsonText(reply, outcome.statusCode, outcome.body)
        case 'insufficient_balance':
          throw new ApiError(
            402,
            'insufficient_balance',
            `Balance ${money(outcome.balanceMicros, p.currency).amount} ${p.currency} does not cover the batch price ${money(outcome.priceMicros, p.currency).amount} ${p.currency} (${messages.length} messages); nothing was charged`,
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

  app.get(
    '/v1/batches/:id',
    {
      schema: {
        summary: 'A batch with the counts of its messages by status',
        tags: ['batches'],
        params: IdParams,
        response: { 200: BatchWithCounts, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const b = await batchOf(principalOf(request).customerId, request.params.id)
      return { ...batchObject(b), counts: await countByStatus(db, b) }
    },
  )

  app.post(
    '/v1/batches/:id/cancel',
    {
      schema: {
        summary: 'Cancel every message of the batch still scheduled or queued; they are refunded',
        tags: ['batches'],
        params: IdParams,
        response: { 200: CanceledBatch, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId
      const b = await batchOf(customerId, request.params.id)
      const { rows } = await db.query<{ id: string }>(
        `SELECT id::text FROM messages
          WHERE batch_id = $1 AND created_at = $2 AND customer_id = $3 AND status IN ('scheduled', 'queued')`,
        [b.id, b.createdAt.toISOString(), customerId],
      )
      const createdAt = b.createdAt.toISOString()
      const { canceled } = await cancelMessages(
        db,
        rows.map((r) => ({ customerId, id: r.id, createdAt })),
      )
      if (canceled.length === 0) {
        throw new ApiError(
          409,
          'not_cancelable',
          'No message of this batch is still scheduled or queued and unclaimed by a worker',
        )
      }
      const after = await batchOf(customerId, b.id)
      return { ...batchObject(after), counts: await countByStatus(db, after), canceled: canceled.length }
    },
  )
}
