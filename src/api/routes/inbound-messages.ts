// Inbound (MO) messages: a customer's (`/v1/inbound_messages`) and, for the operator, those that
// matched no customer (`/v1/admin/inbound_messages?routed=false`).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Db } from '../../db/db.ts'
import { isUuid } from '../../domain/ids.ts'
import { parseTimestamp } from '../../domain/timestamps.ts'
import {
  adminInboundObject,
  findInbound,
  inboundObject,
  listInbound,
} from '../../inbound/inbound-repository.ts'
import { invalidRequest, notFound } from '../errors.ts'
import { decodeCursor, page } from '../pagination.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, ListQuery, listOf, Nullable } from '../schemas.ts'

export interface InboundRouteDeps {
  db: Db
  auth: Authenticator
}

const InboundObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('inbound_message'),
  from: Type.String(),
  to: Type.String(),
  body: Type.String(),
  keyword: Nullable(Type.String()),
  parts: Type.Integer(),
  received_at: Type.String(),
})
const AdminInboundObject = Type.Composite([
  InboundObject,
  Type.Object({ carrier: Type.String(), customer_id: Nullable(Type.String()) }),
])

const Filters = {
  ...ListQuery,
  from: Type.Optional(Type.String({ maxLength: 32 })),
  to: Type.Optional(Type.String({ maxLength: 32 })),
  created_after: Type.Optional(Type.String({ format: 'date-time' })),
}

function filtersOf(q: { from?: string; to?: string; created_after?: string; cursor?: string }) {
  let createdAfter: Date | undefined
  if (q.created_after !== undefined) {
    const t = parseTimestamp(q.created_after)
    if (t === null) throw invalidRequest("'created_after' must be an RFC 3339 date-time", 'created_after')
    createdAfter = new Date(t)
  }
  return {
    from: q.from,
    to: q.to,
    createdAfter,
    before: decodeCursor(q.cursor, isUuid),
  }
}

export const inboundMessageRoutes: FastifyPluginAsyncTypebox<InboundRouteDeps> = async (customer, deps) => {
  const { db, auth } = deps
  customer.addHook('onRequest', auth.customer)
  customer.get(
    '/v1/inbound_messages',
    {
      schema: {
        summary: 'Inbound (MO) messages routed to this customer, newest first',
        tags: ['inbound'],
        querystring: Type.Object(Filters, { additionalProperties: false }),
        response: { 200: listOf(InboundObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const limit = request.query.limit ?? 50
      const rows = await listInbound(db, { customerId: p.customerId, ...filtersOf(request.query) }, limit + 1)
      return page(rows, limit, (m) => m.id, inboundObject)
    },
  )
  customer.get(
    '/v1/inbound_messages/:id',
    {
      schema: {
        summary: 'One inbound message',
        tags: ['inbound'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: InboundObject, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const id = request.params.id.toLowerCase()
      const m = isUuid(id) ? await findInbound(db, p.customerId, id) : undefined
      if (!m) throw notFound('inbound message')
      return inboundObject(m)
    },
  )
}

export const adminInboundRoutes: FastifyPluginAsyncTypebox<InboundRouteDeps> = async (admin, deps) => {
  const { db, auth } = deps
  admin.addHook('onRequest', auth.admin)
  admin.get(
    '/v1/admin/inbound_messages',
    {
      schema: {
        summary: 'Inbound messages; ?routed=false: those that matched no customer',
        tags: ['admin'],
        querystring: Type.Object(
          {
            ...Filters,
            routed: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
            customer_id: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(AdminInboundObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const q = request.query
      const limit = q.limit ?? 50
      if (q.routed === 'false' && q.customer_id)
        throw invalidRequest("'customer_id' contradicts routed=false", 'customer_id')
      const rows = await listInbound(
        db,
        {
          customerId: q.customer_id,
          ...(q.routed === undefined ? {} : { routed: q.routed === 'true' }),
          ...filtersOf(q),
        },
        limit + 1,
      )
      return page(rows, limit, (m) => m.id, adminInboundObject)
    },
  )
}
