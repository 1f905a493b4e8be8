import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { findCustomer } from '../../accounts/customers.ts'
import type { Db } from '../../db/db.ts'
import { money } from '../../messages/message-object.ts'
import { notFound } from '../errors.ts'
import type { Authenticator } from '../plugins/auth.ts'
import { principalOf } from '../plugins/auth.ts'
import { ErrorBody, Money } from '../schemas.ts'

export const balanceRoutes: FastifyPluginAsyncTypebox<{ db: Db; auth: Authenticator }> = async (
  app,
  { db, auth },
) => {
  app.addHook('onRequest', auth.customer)
  app.get(
    '/v1/balance',
    {
      schema: {
        summary: "The customer's prepaid balance",
        tags: ['billing'],
        response: { 200: Type.Object({ balance: Money }), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const c = await findCustomer(db, principalOf(request).customerId)
      if (!c) throw notFound('customer')
      return { balance: money(c.balanceMicros, c.currency) }
    },
  )
}
