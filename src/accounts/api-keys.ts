import { createHash, randomBytes } from 'node:crypto'
import type { Queryable } from '../db/db.ts'
import { newId } from '../domain/ids.ts'

export interface ApiKey {
  id: string
  customerId: string
  prefix: string
  allowedIps: string[] | null
  createdAt: Date
  revokedAt: Date | null
}

/** What a request authenticated with a key is allowed to be. */
export interface KeyPrincipal {
  keyId: string
  customerId: string
  allowedIps: string[] | null
  /** The customer's allow-list, which every one of its keys must also pass. */
  customerAllowedIps: string[] | null
  /** A suspended customer's keys are refused (403 forbidden) until it is active again. */
  suspended: boolean
  rateLimitMps: number
  currency: string
}

export const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret).digest()

/** Keys are 32 random bytes; only their SHA-256 is stored (high entropy makes a slow hash unnecessary). */
export function generateSecret(): string {
  return `sk_${randomBytes(32).toString('base64url')}`
}

interface KeyRow {
  id: string
  customer_id: string
  prefix: string
  allowed_ips: string[] | null
  created_at: Date
  revoked_at: Date | null
}

const fromRow = (r: KeyRow): ApiKey => ({
  id: r.id,
  customerId: r.customer_id,
  prefix: r.prefix,
  allowedIps: r.allowed_ips,
  createdAt: new Date(r.created_at),
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
})

/** Issues a key; the secret is returned here once and never stored. */
export async function issueApiKey(
  q: Queryable,
  customerId: string,
  allowedIps: string[] | null = null,
): Promise<{ key: ApiKey; secret: string }> {
  const secret = generateSecret()
  const { rows } = await q.query<KeyRow>(
    `INSERT INTO api_keys (id, customer_id, prefix, secret_hash, allowed_ips) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, customer_id, prefix, allowed_ips, created_at, revoked_at`,
    [newId(), customerId, secret.slice(0, 10), hashSecret(secret), allowedIps],
  )
  return { key: fromRow(rows[0] as KeyRow), secret }
}

export async function revokeApiKey(
  q: Queryable,
  customerId: string,
  keyId: string,
): Promise<ApiKey | undefined> {
  const { rows } = await q.query<KeyRow>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND customer_id = $2
     RETURNING id, customer_id, prefix, allowed_ips, created_at, revoked_at`,
    [keyId, customerId],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

export async function findPrincipal(q: Queryable, secret: string): Promise<KeyPrincipal | undefined> {
  const { rows } = await q.query<{
    id: string
    customer_id: string
    allowed_ips: string[] | null
    customer_allowed_ips: string[] | null
    status: string
    rate_limit_mps: number
    currency: string
  }>(
    `SELECT k.id, k.customer_id, k.allowed_ips, c.allowed_ips AS customer_allowed_ips, c.status,
            c.rate_limit_mps, c.currency
       FROM api_keys k JOIN customers c ON c.id = k.customer_id
      WHERE k.secret_hash = $1 AND k.revoked_at IS NULL`,
    [hashSecret(secret)],
  )
  const r = rows[0]
  if (!r) return undefined
  return {
    keyId: r.id,
    customerId: r.customer_id,
    allowedIps: r.allowed_ips,
    customerAllowedIps: r.customer_allowed_ips,
    suspended: r.status === 'suspended',
    rateLimitMps: Number(r.rate_limit_mps),
    currency: r.currency,
  }
}
