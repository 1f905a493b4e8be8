import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Db } from '../../db/db.ts'
import { EVENT_TYPES } from '../../events/event-types.ts'
import { type EventPosition, findEvent, listEvents } from '../../events/events-repository.ts'
import { redeliverEvent } from '../../events/webhook-queue.ts'
import { notFound } from '../errors.ts'
import { decodeCursor, page } from '../pagination.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, ListQuery, listOf } from '../schemas.ts'

export const EventEnvelope = Type.Object({
  id: Type.String({ examples: ['evt_01JQ0000000000000000000000'] }),
  type: Type.String({ examples: ['message.delivered'] }),
  created_at: Type.String(),
  data: Type.Object({}, { additionalProperties: true, description: 'The message object as of the event' }),
})

const EventType = Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)))
const EventId = Type.Object({ id: Type.String({ maxLength: 64 }) })
const CURSOR = /^(\d{1,18})\.([012])\.([0-9a-f-]{1,36})$/
/** Microseconds since 1970 of the end of year 9999: a cursor past it is none of ours. */
const MAX_AT_US = 253_402_300_800_000_000n

const cursorKey = (p: EventPosition) => `${p.atUs}.${p.kind}.${p.key}`

export interface EventsRouteDeps {
  db: Db
  auth: Authenticator
  /** Called after a redelivery was queued (wakes a webhook role in this process). */
  onQueued?: () => void
}

export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRouteDeps> = async (
  app,
  { db, auth, onQueued },
) => {
  app.addHook('onRequest', auth.customer)
  app.addHook('preHandler', auth.writes)

  app.get(
    '/v1/events',
    {
      schema: {
        summary: "The customer's events of the last 30 days, newest first",
        tags: ['events'],
        querystring: Type.Object(
          {
            ...ListQuery,
            type: Type.Optional(EventType),
            created_after: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(EventEnvelope), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const q = request.query
      const limit = q.limit ?? 50
      const key = decodeCursor(q.cursor, (k) => {
        const m = CURSOR.exec(k)
        return m !== null && BigInt(m[1] as string) < MAX_AT_US
      })
      const m = key ? CURSOR.exec(key) : null
      const rows = await listEvents(
        db,
        principalOf(request).customerId,
        {
          ...(q.type ? { type: q.type } : {}),
          ...(q.created_after ? { createdAfter: new Date(q.created_after) } : {}),
          ...(m ? { before: { atUs: m[1] as string, kind: Number(m[2]), key: m[3] as string } } : {}),
        },
        limit + 1,
      )
      return page(
        rows,
        limit,
        (e) => cursorKey(e.position),
        ({ position: _, ...e }) => e,
      )
    },
  )

  app.get(
    '/v1/events/:id',
    {
      schema: {
        summary: 'One event',
        tags: ['events'],
        params: EventId,
        response: { 200: EventEnvelope, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const e = await findEvent(db, principalOf(request).customerId, request.params.id)
      if (!e) throw notFound('event')
      return e
    },
  )

  app.post(
    '/v1/events/:id/redeliver',
    {
      schema: {
        summary: 'Queue the event again to every endpoint subscribed to its type',
        tags: ['events'],
        params: EventId,
        response: {
          202: Type.Object({ event_id: Type.String(), endpoints: Type.Integer() }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const customerId = principalOf(request).customerId
      const e = await findEvent(db, customerId, request.params.id)
      if (!e) throw notFound('event')
      const endpoints = await redeliverEvent(db, { customerId, eventId: e.id, type: e.type })
      if (endpoints > 0) onQueued?.()
      return reply.code(202).send({ event_id: e.id, endpoints })
    },
  )
}
