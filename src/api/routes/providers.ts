import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CarrierPayloadError } from '../../carriers/errors.ts'
import { invalidRequest, notFound } from '../errors.ts'
import { ErrorBody } from '../schemas.ts'

export type WebhookSink = (provider: string, kind: 'dlr' | 'inbound', json: unknown) => Promise<boolean>

/** Delivery receipts and inbound messages from HTTP providers (API.md, provider-facing). */
export const providerRoutes: FastifyPluginAsyncTypebox<{ sink: WebhookSink }> = async (app, { sink }) => {
  for (const kind of ['dlr', 'inbound'] as const) {
    app.post(
      `/v1/providers/:provider/${kind}`,
      {
        schema: {
          summary:
            kind === 'dlr'
              ? 'Delivery receipt from an HTTP provider'
              : 'Inbound (MO) message from an HTTP provider',
          tags: ['providers'],
          params: Type.Object({ provider: Type.String({ maxLength: 64 }) }),
          body: Type.Object({}, { additionalProperties: true }),
          response: { 202: Type.Object({ status: Type.Literal('accepted') }), '4xx': ErrorBody },
        },
      },
      async (request, reply) => {
        let known: boolean
        try {
          known = await sink(request.params.provider, kind, request.body)
        } catch (err) {
          if (err instanceof CarrierPayloadError) throw invalidRequest(err.message)
          throw err
        }
        if (!known) throw notFound('provider')
        return reply.code(202).send({ status: 'accepted' as const })
      },
    )
  }
}
