import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CarrierPayloadError } from '../../carriers/errors.ts'
import { type WebhookAuth, WebhookAuthError } from '../../carriers/webhook-auth.ts'
import { ApiError, invalidRequest, notFound } from '../errors.ts'
import { ErrorBody } from '../schemas.ts'

export type WebhookSink = (provider: string, kind: 'dlr' | 'inbound', json: unknown) => Promise<boolean>

/** Where provider webhooks go once authenticated: the checks (per carrier) and the sink. */
export interface ProviderWebhooks {
  auth: WebhookAuth
  sink: WebhookSink
}

/** A receipt or an MO message is a few hundred bytes; anything near this is not one. */
export const PROVIDER_BODY_LIMIT = 8 * 1024

const unauthenticated = (err: WebhookAuthError) => new ApiError(401, 'unauthenticated', err.message)

/**
 * Delivery receipts and inbound messages from HTTP providers (API.md, provider-facing). Every
 * request is authenticated against its carrier before its body is believed: the caller's IP
 * (allowed_ips) before the body is read, the Standard Webhooks signature over the raw body bytes
 * before they are parsed.
 */
export const providerRoutes: FastifyPluginAsyncTypebox<ProviderWebhooks> = async (app, { auth, sink }) => {
  // Scoped to this plugin: the signature covers the exact bytes, so JSON is parsed only after it.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body))

  for (const kind of ['dlr', 'inbound'] as const) {
    app.post(
      `/v1/providers/:provider/${kind}`,
      {
        bodyLimit: PROVIDER_BODY_LIMIT,
        schema: {
          summary:
            kind === 'dlr'
              ? 'Delivery receipt from an HTTP provider'
              : 'Inbound (MO) message from an HTTP provider',
          description:
            'Signed by the carrier per Standard Webhooks with its webhook_secret (and/or from its allowed_ips); 401 otherwise.',
          tags: ['providers'],
          security: [],
          params: Type.Object({ provider: Type.String({ maxLength: 64 }) }),
          body: Type.Object({}, { additionalProperties: true }),
          response: { 202: Type.Object({ status: Type.Literal('accepted') }), '4xx': ErrorBody },
        },
        onRequest: async (request) => {
          const { provider } = request.params as { provider: string }
          if (!auth.knows(provider)) throw notFound('provider')
          try {
            auth.checkIp(provider, request.ip)
          } catch (err) {
            if (err instanceof WebhookAuthError) throw unauthenticated(err)
            throw err
          }
        },
        preValidation: async (request) => {
          const raw = typeof request.body === 'string' ? request.body : ''
          try {
            auth.verify(request.params.provider, raw, request.headers)
          } catch (err) {
            if (err instanceof WebhookAuthError) throw unauthenticated(err)
            throw err
          }
          try {
            request.body = JSON.parse(raw)
          } catch {
            throw new ApiError(400, 'invalid_json', 'Request body is not valid JSON')
          }
        },
      },
      async (request, reply) => {
        let known: boolean
        try {
          known = await sink(request.params.provider, kind, request.body)
        } catch (err) {
          if (err instanceof CarrierPayloadError) throw invalidRequest(err.message, err.param)
          throw err
        }
        if (!known) throw notFound('provider')
        return reply.code(202).send({ status: 'accepted' as const })
      },
    )
  }
}
