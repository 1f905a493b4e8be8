import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Db } from '../../../db/db.ts'
import { isUuid, uuidV7Time } from '../../../domain/ids.ts'
import { cancelMessages } from '../../../messages/cancel.ts'
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
      const { canceled, refused } = await cancelMessages(db, customerId, [
        { id, createdAt: new Date(t).toISOString() },
      ])
      if (canceled.length === 0) {
        const why = refused.get(id)
        if (why === undefined) throw notFound('message')
        throw new ApiError(
          409,
          'not_cancelable',
          why === 'held by a worker'
            ? 'The message is already being delivered'
            : `Only a scheduled or queued message can be canceled; this one is ${why}`,
        )
      }
      const m = await findMessage(db, customerId, id)
      if (!m) throw notFound('message')
      return messageObject(m)
    },
  )
}
