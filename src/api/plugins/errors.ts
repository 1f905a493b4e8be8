import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { IdempotencyKeyReusedError } from '../../accounts/idempotent.ts'
import { ApiError } from '../errors.ts'

/** Errors meaning "the database or another dependency is unreachable": retry later. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '53300',
  // statement_timeout: the database is too slow right now, not the request wrong.
  '57014',
])

function paramOf(err: FastifyError): string | undefined {
  const v = err.validation?.[0]
  if (!v) return undefined
  const p = v.params as Record<string, unknown>
  const base = v.instancePath.replace(/^\//, '').replaceAll('/', '.')
  // A bad object key is reported on the inner check (pattern, maxLength) with the key in propertyName.
  const leaf = (p.missingProperty ??
    p.additionalProperty ??
    p.propertyName ??
    (v as { propertyName?: string }).propertyName) as string | undefined
  return [base, leaf].filter(Boolean).join('.') || undefined
}

/** Maps every failure to the API.md error body; internals never leak into a 5xx body. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof IdempotencyKeyReusedError) {
    return new ApiError(422, 'idempotency_key_reused', err.message)
  }
  const e = err as FastifyError & { code?: string }
  if (e.validation) {
    const param = paramOf(e)
    const v = e.validation[0]
    const detail =
      v?.keyword === 'additionalProperties'
        ? `Unknown field '${param}'`
        : `${param ? `'${param}' ` : ''}${v?.message ?? 'is invalid'}`
    return new ApiError(400, 'invalid_request', detail, param)
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'Request body is not valid JSON')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', 'Request body is too large')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'Content-Type must be application/json')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_request', 'Content-Length does not match the body')
  }
  if (e instanceof SyntaxError && e.statusCode === 400) {
    return new ApiError(400, 'invalid_json', 'Request body is not valid JSON')
  }
  if (e.code && UNAVAILABLE_CODES.has(e.code)) {
    return new ApiError(503, 'unavailable', 'Service temporarily unavailable; retry later', undefined, {
      'retry-after': '1',
    })
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, 'invalid_request', e.message)
  }
  return new ApiError(500, 'internal_error', 'Internal error')
}

export function sendError(request: FastifyRequest, reply: FastifyReply, apiErr: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(apiErr.headers)) reply.header(k, v)
  return reply
    .code(apiErr.statusCode)
    .type('application/json')
    .send({
      error: {
        type: apiErr.type,
        code: apiErr.code,
        message: apiErr.message,
        ...(apiErr.param ? { param: apiErr.param } : {}),
        request_id: request.id,
      },
    })
}

/**
 * Errors the router answers before any hook runs (Fastify's `frameworkErrors` option): a path
 * that is not valid percent-encoding, or a path parameter over `maxParamLength`. Without this
 * they get Fastify's own body (and a 414 for the second), not the API.md error.
 */
export function frameworkError(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  reply.header('x-request-id', request.id)
  const apiErr =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? // No id is that long: the same answer as for any other id that does not exist.
        new ApiError(404, 'not_found', 'No such resource')
      : new ApiError(400, 'invalid_request', 'The request path is not valid')
  return sendError(request, reply, apiErr)
}

export function registerErrorHandling(
  app: FastifyInstance,
  onError: (code: string, status: number) => void,
): void {
  app.setErrorHandler((err, request, reply) => {
    const apiErr = toApiError(err)
    if (apiErr.statusCode >= 500) request.log.error({ err }, 'request failed')
    onError(apiErr.code, apiErr.statusCode)
    return sendError(request, reply, apiErr)
  })
  app.setNotFoundHandler((request, reply) => {
    onError('not_found', 404)
    return sendError(
      request,
      reply,
      new ApiError(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
    )
  })
}
