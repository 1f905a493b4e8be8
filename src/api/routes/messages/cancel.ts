import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Db } from '../../../db/db.ts'
import { isUuid, uuidV7Time } from '../../../domain/ids.ts'
import { createCanceler, HELD_BY_A_WORKER } from '../../../messages/cancel.ts'
import { messageObject } from '../../../messages/message-object.ts'
import { findMessage } from '../../../messages/messages-repository.ts'
import { ApiError, notFound } from '../../errors.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { principalOf } from '../../plugins/auth.ts'
import { ErrorBody, MessageObject } from '../../schemas.ts'

/** POST /v1/messages/{id}/cancel: only while scheduled or queued and not claimed by a worker. */
export const messageCancelRoutes: FastifyPluginAsyncTypebox<{ db: Db; auth: Authenticator }> = async (
  app,
  { db, auth },
) => {
  app.addHook('onRequest', auth.customer)
  const canceler = createCanceler(db)
  app.addHook('onClose', () => canceler.drain())
  app.post(
    '/v1/messages/:id/cancel',
    {
      schema: {
        summary: 'Cancel a message still scheduled or queued; its charge is refunded',
        tags: ['messages'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: MessageObject, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId
      const id = request.params.id.toLowerCase()
      const t = isUuid(id) ? uuidV7Time(id) : null
      if (t === null) throw notFound('message')
      const outcome = await canceler.cancel({ customerId, id, createdAt: new Date(t).toISOString() })
      if (outcome === 'not_found') throw notFound('message')
      if (outcome !== 'canceled') {
        throw new ApiError(
          409,
          'not_cancelable',
          outcome.refused === HELD_BY_A_WORKER
            ? 'The message is already being delivered'
            : `Only a scheduled or queued message can be canceled; this one is ${outcome.refused}`,
        )
      }
      const m = await findMessage(db, customerId, id)
      if (!m) throw notFound('message')
      return messageObject(m)
    },
  )
}
