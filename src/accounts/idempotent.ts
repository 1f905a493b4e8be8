import type { Queryable } from '../db/db.ts'

export interface StoredResponse {
  statusCode: number
  body: string
}

/**
 * What `fn` answers: the response sent now, and optionally a different body to store for replays.
 * A response that carries a secret (an API key) stores the body without it: the secret is shown
 * once and never written to the database in clear.
 */
export interface FirstResponse extends StoredResponse {
  replayBody?: string
}

/** Scope of idempotency keys sent with the admin token (customers' keys are scoped by customer id). */
export const ADMIN_SCOPE = '00000000-0000-0000-0000-000000000000'

export class IdempotencyKeyReusedError extends Error {
  readonly code = 'idempotency_key_reused'
}

/**
 * Runs `fn` at most once per (scope, key) within 24 h, inside the caller's transaction: the
 * advisory lock serializes concurrent requests with one key, the stored response replays.
 * For low-volume POSTs (admin, credits); the message path uses the batched form in billing/.
 */
export async function idempotent(
  tx: Queryable,
  scope: string,
  key: { key: string; requestHash: string } | undefined,
  fn: () => Promise<FirstResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  if (!key) {
    const { statusCode, body } = await fn()
    return { statusCode, body, replayed: false }
  }
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${scope}\n${key.key}`])
  const { rows } = await tx.query<{ request_hash: string; status_code: number; response: string }>(
    `SELECT request_hash, status_code, response FROM idempotency_keys
      WHERE customer_id = $1 AND key = $2 AND expires_at > now()`,
    [scope, key.key],
  )
  const prior = rows[0]
  if (prior) {
    if (prior.request_hash !== key.requestHash) {
      throw new IdempotencyKeyReusedError('Idempotency-Key was already used with a different request')
    }
    return { statusCode: Number(prior.status_code), body: prior.response, replayed: true }
  }
  const { statusCode, body, replayBody } = await fn()
  await tx.query(
    `INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, response, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + interval '24 hours')
     ON CONFLICT (customer_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
       status_code = EXCLUDED.status_code, response = EXCLUDED.response, created_at = now(),
       expires_at = EXCLUDED.expires_at`,
    [scope, key.key, key.requestHash, statusCode, replayBody ?? body],
  )
  return { statusCode, body, replayed: false }
}
