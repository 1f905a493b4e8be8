import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Db } from '../../../db/db.ts'
import { FINAL_STATUSES } from '../../../domain/status.ts'
import { money } from '../../../messages/message-object.ts'
import { receiptLatency, type UsageReader } from '../../../reporting/usage.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { ErrorBody, Money } from '../../schemas.ts'
import { usageRange } from '../usage-range.ts'

/** Reports span up to 400 days (default: the last 30), aligned to minutes; the rollup read is the coarsest that tiles the range. */
const REPORT_LIMITS = { maxMs: 400 * 86_400_000, defaultSpanMs: 30 * 86_400_000 }
const Range = {
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
}
const Period = { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }
/** Final statuses other than delivered: the error kinds of the carrier report. */
const ERROR_KINDS = FINAL_STATUSES.filter((s) => s !== 'delivered')

const period = (r: { fromMs: number; toMs: number }) => ({
  from: new Date(r.fromMs).toISOString(),
  to: new Date(r.toMs).toISOString(),
})

/** Operator reports (API.md admin endpoints): top customers and carrier quality over a range. */
export const adminReportRoutes: FastifyPluginAsyncTypebox<{
  db: Db
  auth: Authenticator
  reader: UsageReader
  currency: string
}> = async (app, { db, auth, reader, currency }) => {
  app.addHook('onRequest', auth.admin)

  app.get(
    '/v1/admin/reports/customers',
    {
      schema: {
        summary: 'Top customers by messages, segments or cost over a range',
        tags: ['admin'],
        querystring: Type.Object(
          {
            ...Range,
            order: Type.Optional(
              Type.Union([Type.Literal('messages'), Type.Literal('segments'), Type.Literal('cost')]),
            ),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ...Period,
            data: Type.Array(
              Type.Object({
                customer_id: Type.String(),
                name: Type.Union([Type.String(), Type.Null()]),
                messages: Type.Integer(),
                segments: Type.Integer(),
                cost: Money,
              }),
            ),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const q = request.query
      const range = usageRange(q, 'minute', Date.now(), REPORT_LIMITS)
      const top = await reader.topCustomers(range.fromMs, range.toMs, q.order ?? 'cost', q.limit ?? 20)
      const { rows } = await db.query<{ id: string; name: string; currency: string }>(
        'SELECT id::text, name, currency FROM customers WHERE id = ANY($1::uuid[])',
        [top.map((t) => t.customerId)],
      )
      const byId = new Map(rows.map((r) => [r.id, r]))
      return {
        ...period(range),
        data: top.map((t) => ({
          customer_id: t.customerId,
          name: byId.get(t.customerId)?.name ?? null,
          messages: t.messages,
          segments: t.segments,
          cost: money(t.costMicros, byId.get(t.customerId)?.currency ?? currency),
        })),
      }
    },
  )

  app.get(
    '/v1/admin/reports/carriers',
    {
      schema: {
        summary: 'Per carrier: submitted, delivered ratio, receipt latency p50/p95, errors by kind',
        tags: ['admin'],
        querystring: Type.Object(Range, { additionalProperties: false }),
        response: {
          200: Type.Object({
            ...Period,
            data: Type.Array(
              Type.Object({
                carrier: Type.String(),
                submitted: Type.Integer(),
                delivered: Type.Integer(),
                delivered_ratio: Type.Union([Type.Number(), Type.Null()]),
                receipt_latency_ms: Type.Object({
                  p50: Type.Union([Type.Integer(), Type.Null()]),
                  p95: Type.Union([Type.Integer(), Type.Null()]),
                  receipts: Type.Integer(),
                }),
                errors: Type.Record(Type.String(), Type.Integer()),
              }),
            ),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const range = usageRange(request.query, 'minute', Date.now(), REPORT_LIMITS)
      const [totals, latency] = await Promise.all([
        reader.carriers(range.fromMs, range.toMs),
        receiptLatency(db, range.fromMs, range.toMs),
      ])
      const lat = new Map(latency.map((l) => [l.carrier, l]))
      return {
        ...period(range),
        data: totals.map((c) => {
          const delivered = c.byStatus.delivered ?? 0
          const l = lat.get(c.carrier)
          return {
            carrier: c.carrier,
            submitted: c.submitted,
            delivered,
            delivered_ratio: c.submitted > 0 ? Math.round((delivered / c.submitted) * 10_000) / 10_000 : null,
            receipt_latency_ms: { p50: l?.p50Ms ?? null, p95: l?.p95Ms ?? null, receipts: l?.receipts ?? 0 },
            errors: Object.fromEntries(ERROR_KINDS.map((k) => [k, c.byStatus[k] ?? 0])),
          }
        }),
      }
    },
  )
}
