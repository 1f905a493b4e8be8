import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { money } from '../../messages/message-object.ts'
import { GRANULARITIES } from '../../reporting/buckets.ts'
import type { UsagePeriod as Period, UsageGroup, UsageReader } from '../../reporting/usage.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, Money } from '../schemas.ts'
import { usageRange } from './usage-range.ts'

const UsagePeriod = Type.Object({
  period_start: Type.String({ format: 'date-time' }),
  country: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  priority: Type.Optional(Type.String()),
  messages: Type.Integer(),
  segments: Type.Integer(),
  cost: Money,
  by_status: Type.Record(Type.String(), Type.Integer()),
})

/** GET /v1/usage (API.md "Usage"): the customer's rollups; periods without traffic are left out. */
export const usageRoutes: FastifyPluginAsyncTypebox<{
  auth: Authenticator
  reader: UsageReader
}> = async (app, { auth, reader }) => {
  app.addHook('onRequest', auth.customer)
  app.get(
    '/v1/usage',
    {
      schema: {
        summary: 'Usage rollup: messages by status, segments and cost per period',
        tags: ['billing'],
        querystring: Type.Object(
          {
            granularity: Type.Optional(Type.Union(GRANULARITIES.map((g) => Type.Literal(g)))),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
            group_by: Type.Optional(
              Type.Union([Type.Literal('country'), Type.Literal('status'), Type.Literal('priority')]),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(UsagePeriod) }), '4xx': ErrorBody },
      },
    },
    async (request) => {
      // The key's principal carries the customer's currency (fixed at onboarding): no customer read.
      const { customerId, currency } = principalOf(request)
      const q = request.query
      const granularity = q.granularity ?? 'day'
      const range = usageRange(q, granularity, Date.now())
      const periods = await reader.usage({
        customerId,
        granularity,
        ...range,
        ...(q.group_by ? { groupBy: q.group_by } : {}),
      })
      // Grouped periods repeat their start once per group: formatted once.
      let lastMs = Number.NaN
      let lastIso = ''
      const isoOf = (ms: number) => {
        if (ms !== lastMs) [lastMs, lastIso] = [ms, new Date(ms).toISOString()]
        return lastIso
      }
      return { data: periods.map((p) => periodBody(p, isoOf(p.periodStart), q.group_by, currency)) }
    },
  )
}

/**
 * One period of the answer. Each group_by has its own object literal: a computed key spread into
 * the object (`...{ [group_by]: … }`) made every period a dictionary-mode object: building and
 * serializing them took more of the api's CPU than reading the rows (profiled over 100 reads of
 * 4,320 periods: 1.1 s in the mapping and 0.8 s in JSON.stringify, against 0.7 s parsing rows).
 */
function periodBody(p: Period, period_start: string, groupBy: UsageGroup | undefined, currency: string) {
  const cost = money(p.costMicros, currency)
  const { messages, segments, byStatus: by_status } = p
  const group = p.group ?? ''
  switch (groupBy) {
    case 'country':
      return { period_start, country: group, messages, segments, cost, by_status }
    case 'status':
      return { period_start, status: group, messages, segments, cost, by_status }
    case 'priority':
      return { period_start, priority: group, messages, segments, cost, by_status }
    default:
      return { period_start, messages, segments, cost, by_status }
  }
}
