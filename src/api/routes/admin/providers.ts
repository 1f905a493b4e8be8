import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Authenticator } from '../../plugins/auth.ts'
import { ErrorBody, Nullable } from '../../schemas.ts'

/** What the operator sees of one provider (carrier) driven by this process's delivery worker. */
export const ProviderObject = Type.Object({
  name: Type.String(),
  object: Type.Literal('provider'),
  type: Type.String(),
  weight: Type.Integer(),
  countries: Nullable(Type.Array(Type.String())),
  prefixes: Nullable(Type.Array(Type.String())),
  healthy: Type.Boolean(),
  circuit_state: Type.String(),
  throughput_limit: Nullable(Type.Number()),
  window: Nullable(Type.Integer()),
  in_flight: Nullable(Type.Integer()),
  waiting: Nullable(Type.Integer()),
})

export type ProviderView = Omit<typeof ProviderObject.static, 'object'>

/**
 * GET /v1/admin/providers. CarrierLink state lives in the delivery worker: a process running the
 * api alone has no providers of its own and lists none (each worker exports the same facts on
 * its /metrics).
 */
export const adminProviderRoutes: FastifyPluginAsyncTypebox<{
  auth: Authenticator
  providers: () => ProviderView[]
}> = async (app, { auth, providers }) => {
  app.addHook('onRequest', auth.admin)
  app.get(
    '/v1/admin/providers',
    {
      schema: {
        summary: 'Providers with health, circuit state, throughput limit and queue depth',
        tags: ['admin'],
        response: {
          200: Type.Object({
            data: Type.Array(ProviderObject),
            has_more: Type.Boolean(),
            next_cursor: Nullable(Type.String()),
          }),
          '4xx': ErrorBody,
        },
      },
    },
    async () => ({
      data: providers().map((p) => ({ ...p, object: 'provider' as const })),
      has_more: false,
      next_cursor: null,
    }),
  )
}
