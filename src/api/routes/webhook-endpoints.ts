import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { idempotent } from '../../accounts/idempotent.ts'
import type { Db } from '../../db/db.ts'
import { isUuid } from '../../domain/ids.ts'
import { EVENT_TYPES } from '../../events/event-types.ts'
import { type AddressPolicy, refuseUrl } from '../../events/webhook-address.ts'
import {
  countEndpointsLocked,
  createEndpoint,
  deleteEndpoint,
  endpointObject,
  findEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from '../../events/webhook-endpoints-repository.ts'
import { listAttempts } from '../../events/webhook-queue.ts'
import { invalidRequest, notFound, sendJsonText } from '../errors.ts'
import { idempotencyOf } from '../idempotency-key.ts'
import { decodeCursor, page } from '../pagination.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, ListQuery, listOf, Nullable } from '../schemas.ts'

export interface WebhookEndpointRouteDeps {
  db: Db
  auth: Authenticator
  policy: AddressPolicy
  /** The operator's key sealing endpoint secrets (resolved on first use). */
  key: () => Buffer
  /** An endpoint was created or enabled (committed): tells the webhooks processes (ADR 0021). */
  endpointsChanged?: (customerId: string) => void
}

/** Webhook endpoints per customer (Stripe allows 16). */
export const MAX_ENDPOINTS = 16

const Endpoint = Type.Object({
  id: Type.String(),
  object: Type.Literal('webhook_endpoint'),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  description: Nullable(Type.String()),
  created_at: Type.String(),
  secret: Type.Optional(
    Type.String({ description: 'Only in the response that created it (or rotate_secret)' }),
  ),
})
const Events = Type.Array(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))), {
  uniqueItems: true,
  maxItems: EVENT_TYPES.length,
  description: 'Event types sent to the endpoint; absent or empty: every type',
})
const Url = Type.String({ minLength: 1, maxLength: 2048 })
const Description = Nullable(Type.String({ maxLength: 500 }))
const Params = Type.Object({ id: Type.String({ maxLength: 64 }) })
const Attempt = Type.Object({
  id: Type.String(),
  object: Type.Literal('webhook_delivery_attempt'),
  event_id: Type.String(),
  attempt: Type.Integer(),
  status_code: Nullable(Type.Integer()),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String()),
  next_retry_at: Nullable(Type.String()),
  created_at: Type.String(),
})

export const webhookEndpointRoutes: FastifyPluginAsyncTypebox<WebhookEndpointRouteDeps> = async (
  app,
  deps,
) => {
  const { db, auth, policy, key } = deps
  const changed = deps.endpointsChanged ?? (() => undefined)
  app.addHook('onRequest', auth.customer)
  app.addHook('preHandler', auth.writes)

  const checkUrl = (url: string) => {
    const refused = refuseUrl(url, policy)
    if (refused) throw invalidRequest(refused, 'url')
  }
  const endpointOr404 = async (customerId: string, id: string) => {
    const e = isUuid(id) ? await findEndpoint(db, customerId, id.toLowerCase()) : undefined
    if (!e) throw notFound('webhook endpoint')
    return e
  }

  app.post(
    '/v1/webhook_endpoints',
    {
      schema: {
        summary: 'Register a webhook endpoint; its signing secret is in this response only',
        tags: ['webhooks'],
        body: Type.Object(
          { url: Url, events: Type.Optional(Events), description: Type.Optional(Description) },
          { additionalProperties: false },
        ),
        response: { 201: Endpoint, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const customerId = principalOf(request).customerId
      const b = request.body
      checkUrl(b.url)
      let secret: string | undefined
      const out = await db.transaction((tx) =>
        idempotent(tx, customerId, idempotencyOf(request), async () => {
          // Every event is sent to every endpoint: a bound on endpoints bounds that fan-out.
          if ((await countEndpointsLocked(tx, customerId)) >= MAX_ENDPOINTS) {
            throw invalidRequest(`a customer has at most ${MAX_ENDPOINTS} webhook endpoints`, 'url')
          }
          const made = await createEndpoint(tx, key(), {
            customerId,
            url: b.url,
            events: b.events?.length ? b.events : null,
            description: b.description ?? null,
          })
          secret = made.secret
          // The stored response (replayed for a retried Idempotency-Key) never holds the secret.
          return { statusCode: 201, body: JSON.stringify(endpointObject(made.endpoint)) }
        }),
      )
      changed(customerId)
      if (out.replayed || !secret) {
        reply.header('idempotent-replayed', 'true')
        return sendJsonText(reply, out.statusCode, out.body)
      }
      return sendJsonText(reply, 201, JSON.stringify({ ...JSON.parse(out.body), secret }))
    },
  )

  app.get(
    '/v1/webhook_endpoints',
    {
      schema: {
        summary: "The customer's webhook endpoints, oldest first",
        tags: ['webhooks'],
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: listOf(Endpoint), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50
      const after = decodeCursor(request.query.cursor, isUuid)
      const rows = await listEndpoints(db, principalOf(request).customerId, after, limit + 1)
      return page(
        rows,
        limit,
        (e) => e.id,
        (e) => endpointObject(e),
      )
    },
  )

  app.get(
    '/v1/webhook_endpoints/:id',
    {
      schema: {
        summary: 'One webhook endpoint',
        tags: ['webhooks'],
        params: Params,
        response: { 200: Endpoint, '4xx': ErrorBody },
      },
    },
    async (request) =>
      endpointObject(await endpointOr404(principalOf(request).customerId, request.params.id)),
  )

  app.patch(
    '/v1/webhook_endpoints/:id',
    {
      schema: {
        summary: 'Change url, events, description or enabled',
        tags: ['webhooks'],
        params: Params,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Nullable(Events)),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Endpoint, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId
      const b = request.body
      if (b.url !== undefined) checkUrl(b.url)
      const id = request.params.id.toLowerCase()
      const updated = isUuid(id)
        ? await updateEndpoint(db, customerId, id, {
            ...(b.url !== undefined ? { url: b.url } : {}),
            ...(b.events !== undefined ? { events: b.events?.length ? b.events : null } : {}),
            ...(b.description !== undefined ? { description: b.description } : {}),
            ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
          })
        : undefined
      if (!updated) throw notFound('webhook endpoint')
      if (updated.enabled) changed(customerId)
      return endpointObject(updated)
    },
  )

  app.delete(
    '/v1/webhook_endpoints/:id',
    {
      schema: {
        summary: 'Delete a webhook endpoint (pending deliveries to it are dropped)',
        tags: ['webhooks'],
        params: Params,
        response: {
          200: Type.Object({
            id: Type.String(),
            object: Type.Literal('webhook_endpoint'),
            deleted: Type.Boolean(),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase()
      const ok = isUuid(id) && (await deleteEndpoint(db, principalOf(request).customerId, id))
      if (!ok) throw notFound('webhook endpoint')
      return { id, object: 'webhook_endpoint' as const, deleted: true }
    },
  )

  app.post(
    '/v1/webhook_endpoints/:id/rotate_secret',
    {
      schema: {
        summary: 'New signing secret (shown once); the old one keeps signing for 24 h',
        tags: ['webhooks'],
        params: Params,
        response: { 200: Endpoint, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase()
      const rotated = isUuid(id)
        ? await rotateSecret(db, key(), principalOf(request).customerId, id)
        : undefined
      if (!rotated) throw notFound('webhook endpoint')
      return endpointObject(rotated.endpoint, rotated.secret)
    },
  )

  app.get(
    '/v1/webhook_endpoints/:id/deliveries',
    {
      schema: {
        summary: 'Delivery attempts to this endpoint, newest first',
        tags: ['webhooks'],
        params: Params,
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: listOf(Attempt), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const e = await endpointOr404(principalOf(request).customerId, request.params.id)
      const limit = request.query.limit ?? 50
      const before = decodeCursor(
        request.query.cursor,
        (k) => /^\d{1,19}$/.test(k) && BigInt(k) <= 9_223_372_036_854_775_807n,
      )
      const rows = await listAttempts(db, e.id, before, limit + 1)
      return page(
        rows,
        limit,
        (a) => a.id,
        (a) => ({
          id: a.id,
          object: 'webhook_delivery_attempt' as const,
          event_id: a.event_id,
          attempt: Number(a.attempt),
          status_code: a.status_code === null ? null : Number(a.status_code),
          latency_ms: Number(a.latency_ms),
          error: a.error,
          next_retry_at: a.next_retry_at ? new Date(a.next_retry_at).toISOString() : null,
          created_at: new Date(a.created_at).toISOString(),
        }),
      )
    },
  )
}
