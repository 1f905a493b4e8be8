// The customer's opt-out list (`/v1/opt_outs`) and its keyword replies (`/v1/keyword_replies`).
// Every change reaches the compliance cache of every api process at once (shared-cache.ts).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import {
  addOptOutTx,
  findOptOut,
  listOptOuts,
  optOutObject,
  removeOptOut,
} from '../../compliance/opt-outs-repository.ts'
import type { ComplianceChanges } from '../../compliance/shared-cache.ts'
import type { Db } from '../../db/db.ts'
import { parseRecipient } from '../../domain/phone.ts'
import { readKeywordReplies, replyText, writeKeywordReplies } from '../../inbound/keyword-replies.ts'
import { invalidRequest, notFound, unprocessable } from '../errors.ts'
import { decodeCursor, page } from '../pagination.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, ListQuery, listOf, Nullable } from '../schemas.ts'

export interface OptOutRouteDeps {
  db: Db
  auth: Authenticator
  changes: ComplianceChanges
}

const OptOutObject = Type.Object({
  object: Type.Literal('opt_out'),
  phone: Type.String(),
  source: Type.Union([Type.Literal('keyword'), Type.Literal('api')]),
  created_at: Type.String(),
})
const Phone = Type.Object({ phone: Type.String({ maxLength: 64 }) })
const ReplyText = Nullable(Type.String({ maxLength: 640 }))
const RepliesBody = Type.Object(
  { opt_out: Type.Optional(ReplyText), opt_in: Type.Optional(ReplyText), help: Type.Optional(ReplyText) },
  { additionalProperties: false },
)
const RepliesObject = Type.Object({
  object: Type.Literal('keyword_replies'),
  opt_out: Nullable(Type.String()),
  opt_in: Nullable(Type.String()),
  help: Nullable(Type.String()),
})

function phoneOf(input: string): string {
  const p = parseRecipient(input)
  if (!p.ok) throw unprocessable('invalid_phone_number', "'phone' is not a valid E.164 phone number", 'phone')
  return p.e164
}

export const optOutRoutes: FastifyPluginAsyncTypebox<OptOutRouteDeps> = async (app, deps) => {
  const { db, auth, changes } = deps
  app.addHook('onRequest', auth.customer)
  app.addHook('preHandler', auth.writes)

  app.get(
    '/v1/opt_outs',
    {
      schema: {
        summary: "The customer's opt-out list, newest first",
        tags: ['opt-outs'],
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: listOf(OptOutObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const limit = request.query.limit ?? 50
      const before = decodeCursor(request.query.cursor, (k) => /^\d{1,19}$/.test(k))
      const rows = await listOptOuts(db, p.customerId, before, limit + 1)
      return page(rows, limit, (o) => o.id, optOutObject)
    },
  )

  app.get(
    '/v1/opt_outs/:phone',
    {
      schema: {
        summary: 'Whether a number is on the opt-out list (404 when not)',
        tags: ['opt-outs'],
        params: Phone,
        response: { 200: OptOutObject, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const found = await findOptOut(db, p.customerId, phoneOf(request.params.phone))
      if (!found) throw notFound('opt-out')
      return optOutObject(found)
    },
  )

  app.post(
    '/v1/opt_outs',
    {
      schema: {
        summary: 'Add a number to the opt-out list (201; 200 when it was already there)',
        tags: ['opt-outs'],
        body: Type.Object({ phone: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: OptOutObject, 201: OptOutObject, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const p = principalOf(request)
      const phone = phoneOf(request.body.phone)
      const { optOut, created } = await addOptOutTx(db, p.customerId, phone, 'api')
      changes.optOutChanged(p.customerId, phone, true)
      return reply.code(created ? 201 : 200).send(optOutObject(optOut))
    },
  )

  app.delete(
    '/v1/opt_outs/:phone',
    {
      schema: {
        summary: 'Remove a number from the opt-out list',
        tags: ['opt-outs'],
        params: Phone,
        response: {
          200: Type.Object({
            object: Type.Literal('opt_out'),
            phone: Type.String(),
            deleted: Type.Boolean(),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const p = principalOf(request)
      const phone = phoneOf(request.params.phone)
      if (!(await removeOptOut(db, p.customerId, phone))) throw notFound('opt-out')
      changes.optOutChanged(p.customerId, phone, false)
      return { object: 'opt_out' as const, phone, deleted: true }
    },
  )

  const render = async (customerId: string) => {
    const r = await readKeywordReplies(db, customerId)
    return {
      object: 'keyword_replies' as const,
      opt_out: replyText(r, 'opt_out'),
      opt_in: replyText(r, 'opt_in'),
      help: replyText(r, 'help'),
    }
  }

  app.get(
    '/v1/keyword_replies',
    {
      schema: {
        summary: 'Replies sent to STOP / START / HELP (null: that reply is off)',
        tags: ['opt-outs'],
        response: { 200: RepliesObject, '4xx': ErrorBody },
      },
    },
    async (request) => render(principalOf(request).customerId),
  )

  app.put(
    '/v1/keyword_replies',
    {
      schema: {
        summary: 'Set the replies: a text replaces, null turns it off, an absent field restores the default',
        tags: ['opt-outs'],
        body: RepliesBody,
        response: { 200: RepliesObject, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request)
      // Stored: NULL = default, '' = off.
      const stored = (v: string | null | undefined) => (v === undefined ? null : v === null ? '' : v)
      const b = request.body
      for (const [k, v] of Object.entries(b))
        if (typeof v === 'string' && v.trim() === '')
          throw invalidRequest(`'${k}' must not be blank; null turns the reply off`, k)
      await writeKeywordReplies(db, p.customerId, {
        opt_out: stored(b.opt_out),
        opt_in: stored(b.opt_in),
        help: stored(b.help),
      })
      return render(p.customerId)
    },
  )
}
