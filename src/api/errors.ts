/** Every error a client can see: a stable code, the HTTP status, and the offending param. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'billing_error'
  | 'rate_limit_error'
  | 'idempotency_error'
  | 'api_error'

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly param?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }

  get type(): ErrorType {
    switch (this.statusCode) {
      case 401:
        return 'authentication_error'
      case 402:
        return 'billing_error'
      case 403:
        return 'permission_error'
      case 429:
        return 'rate_limit_error'
      default:
        if (this.code === 'idempotency_key_reused') return 'idempotency_error'
        return this.statusCode >= 500 ? 'api_error' : 'invalid_request_error'
    }
  }
}

export const invalidRequest = (message: string, param?: string) =>
  new ApiError(400, 'invalid_request', message, param)
export const notFound = (what = 'resource') => new ApiError(404, 'not_found', `No such ${what}`)
export const unprocessable = (code: string, message: string, param?: string) =>
  new ApiError(422, code, message, param)

/** Sends a body that is already JSON text (stored responses, replays) without re-serializing it. */
export function sendJsonText(
  reply: { code(n: number): unknown; header(k: string, v: string): unknown; raw: unknown },
  statusCode: number,
  body: string,
) {
  const r = reply as unknown as import('fastify').FastifyReply
  return r
    .code(statusCode)
    .type('application/json')
    .serializer(String)
    .send(body as never)
}
