// Numbers: the operator assigns long codes, short codes and keywords on shared short codes
// (`/v1/admin/numbers`); a customer lists its own (`GET /v1/numbers`).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CUSTOMER_KEYWORD, isReservedKeyword } from '../../compliance/keywords.ts'
import {
  type AssignedNumber,
  assignNumber,
  listNumbers,
  numberObject,
  releaseNumber,
} from '../../compliance/numbers-repository.ts'
import type { ComplianceChanges } from '../../compliance/shared-cache.ts'
import type { Db } from '../../db/db.ts'
import { isUuid } from '../../domain/ids.ts'
import { parseSender } from '../../domain/sender.ts'
import { ApiError, invalidRequest, notFound } from '../errors.ts'
import { decodeCursor, page } from '../pagination.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, ListQuery, listOf, Nullable } from '../schemas.ts'

export interface NumbersRouteDeps {
  db: Db
  auth: Authenticator
  changes: ComplianceChanges
}

const NumberObject = Type.Object({
  object: Type.Literal('number'),
  number: Type.String(),
  type: Type.Union([Type.Literal('long_code'), Type.Literal('short_code')]),
  keyword: Nullable(Type.String()),
  customer_id: Type.String(),
  created_at: Type.String(),
})
const CustomerNumber = Type.Omit(NumberObject, ['customer_id'])

/** An E.164 long code or a 3–8 digit short code, normalized; throws 400 naming `param`. */
function parseNumber(input: string, param: string): { number: string; kind: AssignedNumber['kind'] } {
  const s = parseSender(input.trim())
  if (s?.kind === 'number') return { number: s.value, kind: 'long_code' }
  if (s?.kind === 'shortcode') return { number: s.value, kind: 'short_code' }
  throw invalidRequest(`'${param}' must be an E.164 number or a 3-8 digit short code`, param)
}

function parseKeyword(input: string | undefined | null): string | null {
  if (input === undefined || input === null) return null
  const k = input.trim().toUpperCase()
  if (!CUSTOMER_KEYWORD.test(k)) throw invalidRequest("'keyword' must be 1-20 letters or digits", 'keyword')
  if (isReservedKeyword(k))
    throw invalidRequest(`'keyword' ${k} is an opt-out/opt-in/help keyword and cannot be assigned`, 'keyword')
  return k
}

const SEP = '\u0000'
const cursorKey = (n: AssignedNumber) => `${n.number}${SEP}${n.keyword ?? ''}`
const cursorOf = (c: string | undefined) => {
  const key = decodeCursor(c, (k) => k.includes(SEP))
  if (key === undefined) return undefined
  const [number = '', keyword = ''] = key.split(SEP)
  return { number, keyword }
}

export const adminNumberRoutes: FastifyPluginAsyncTypebox<NumbersRouteDeps> = async (app, deps) => {
  const { db, auth, changes } = deps
  app.addHook('onRequest', auth.admin)

  app.post(
    '/v1/admin/numbers',
    {
      schema: {
        summary: 'Assign a long code, a short code, or a keyword on a shared short code to a customer',
        tags: ['admin'],
        body: Type.Object(
          {
            number: Type.String({ minLength: 1, maxLength: 32 }),
            customer_id: Type.String({ maxLength: 64 }),
            keyword: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: NumberObject, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const { number, kind } = parseNumber(request.body.number, 'number')
      const keyword = parseKeyword(request.body.keyword)
      if (keyword && kind !== 'short_code')
        throw invalidRequest('Keywords are assigned on shared short codes only', 'keyword')
      const customerId = request.body.customer_id.toLowerCase()
      if (!isUuid(customerId)) throw notFound('customer')
      const out = await assignNumber(db, { number, keyword, kind, customerId })
      if (out.kind === 'customer_not_found') throw notFound('customer')
      if (out.kind === 'taken') throw new ApiError(409, 'number_unavailable', out.reason, 'number')
      changes.numbersChanged(customerId)
      return reply.code(201).send(numberObject(out.number))
    },
  )

  app.get(
    '/v1/admin/numbers',
    {
      schema: {
        summary: 'Every assigned number and keyword',
        tags: ['admin'],
        querystring: Type.Object(
          { ...ListQuery, customer_id: Type.Optional(Type.String({ format: 'uuid' })) },
          { additionalProperties: false },
        ),
        response: { 200: listOf(NumberObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50
      const rows = await listNumbers(
        db,
        { customerId: request.query.customer_id, after: cursorOf(request.query.cursor) },
        limit + 1,
      )
      return page(rows, limit, cursorKey, numberObject)
    },
  )

  app.delete(
    '/v1/admin/numbers/:number',
    {
      schema: {
        summary: 'Release a number, or one keyword on a shared short code (?keyword=)',
        tags: ['admin'],
        params: Type.Object({ number: Type.String({ maxLength: 32 }) }),
        querystring: Type.Object(
          { keyword: Type.Optional(Type.String({ maxLength: 40 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            object: Type.Literal('number'),
            number: Type.String(),
            keyword: Nullable(Type.String()),
            deleted: Type.Boolean(),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const { number } = parseNumber(request.params.number, 'number')
      const keyword = request.query.keyword === undefined ? null : parseKeyword(request.query.keyword)
      const customerId = await releaseNumber(db, number, keyword)
      if (!customerId) throw notFound('number')
      changes.numbersChanged(customerId)
      return { object: 'number' as const, number, keyword, deleted: true }
    },
  )
}

export const numberRoutes: FastifyPluginAsyncTypebox<Omit<NumbersRouteDeps, 'changes'>> = async (
  app,
  deps,
) => {
  const { db, auth } = deps
  app.addHook('onRequest', auth.customer)
  app.get(
    '/v1/numbers',
    {
      schema: {
        summary: 'The numbers (long codes, short codes, keywords) assigned to this customer',
        tags: ['numbers'],
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: listOf(CustomerNumber), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const limit = request.query.limit ?? 50
      const rows = await listNumbers(
        db,
        { customerId: p.customerId, after: cursorOf(request.query.cursor) },
        limit + 1,
      )
      return page(rows, limit, cursorKey, (n) => {
        const { customer_id: _, ...rest } = numberObject(n)
        return rest
      })
    },
  )
}
