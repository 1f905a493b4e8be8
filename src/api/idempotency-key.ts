import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { invalidRequest } from './errors.ts'

/** The Idempotency-Key of a POST with the hash of what it asked for, or undefined. */
export function idempotencyOf(request: FastifyRequest): { key: string; requestHash: string } | undefined {
  const raw = request.headers['idempotency-key']
  if (raw === undefined) return undefined
  const key = Array.isArray(raw) ? raw[0] : raw
  if (!key || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw invalidRequest('Idempotency-Key must be 1-255 printable ASCII characters', 'Idempotency-Key')
  }
  const requestHash = createHash('sha256')
    .update(`${request.method} ${request.routeOptions.url}\n${JSON.stringify(request.params ?? {})}\n`)
    .update(JSON.stringify(request.body ?? null))
    .digest('base64url')
  return { key, requestHash }
}
