import type { FastifyRequest } from 'fastify'
import { hasLoneSurrogate } from '../../domain/segments.ts'
import { invalidRequest } from '../errors.ts'

// PostgreSQL text cannot hold NUL (a query with one fails: a 500), and a lone UTF-16 surrogate
// cannot be encoded as UTF-8 (node-postgres would store U+FFFD instead). Every string a client
// sends — path params, query string, JSON body values and keys — is checked here, once, before
// validation, instead of field by field in the handlers.

const MAX_DEPTH = 64

function problem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters'
  if (hasLoneSurrogate(s)) return 'contains an unpaired UTF-16 surrogate'
  return undefined
}

/** The first string in `v` that cannot be stored, with its dotted path (a bad key names its object). */
function findUnstorable(v: unknown, path: string, depth = 0): { param: string; what: string } | undefined {
  if (typeof v === 'string') {
    const what = problem(v)
    return what ? { param: path, what } : undefined
  }
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return undefined
  for (const [k, item] of Object.entries(v)) {
    const keyProblem = problem(k)
    if (keyProblem) return { param: path, what: 'has a key with a NUL character or an unpaired surrogate' }
    const found = findUnstorable(item, path ? `${path}.${k}` : k, depth + 1)
    if (found) return found
  }
  return undefined
}

/** A preValidation hook: 400 invalid_request naming the field that holds unstorable text. */
export async function rejectUnstorableText(request: FastifyRequest): Promise<void> {
  for (const part of [request.params, request.query, request.body]) {
    const found = findUnstorable(part, '')
    if (found) {
      throw invalidRequest(
        `${found.param ? `'${found.param}' ` : 'The request '}${found.what}`,
        found.param || undefined,
      )
    }
  }
}
