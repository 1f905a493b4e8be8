// A customer's webhook endpoints. Secrets are sealed (webhook-secrets.ts); the clear text leaves
// this module only in the result of create and rotate, and as signing keys for the sender.

import type { Queryable } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import { newWebhookSecret, openSecret, sealSecret } from './webhook-secrets.ts'

/** How long the secret replaced by a rotation keeps signing. */
export const ROTATION_OVERLAP = '24 hours'

export interface WebhookEndpoint {
  id: string
  customerId: string
  url: string
  /** null: every event type. */
  events: string[] | null
  description: string | null
  enabled: boolean
  createdAt: Date
}

interface EndpointRow {
  id: string
  customer_id: string
  url: string
  events: string[] | null
  description: string | null
  enabled: boolean
  created_at: Date
}

const COLUMNS = 'id, customer_id, url, events, description, enabled, created_at'

const fromRow = (r: EndpointRow): WebhookEndpoint => ({
  id: r.id,
  customerId: r.customer_id,
  url: r.url,
  events: r.events,
  description: r.description,
  enabled: r.enabled,
  createdAt: new Date(r.created_at),
})

/** The public endpoint object; `secret` only when it was just made. */
export function endpointObject(e: WebhookEndpoint, secret?: string) {
  return {
    id: e.id,
    object: 'webhook_endpoint' as const,
    url: e.url,
    events: e.events ?? [],
    enabled: e.enabled,
    description: e.description,
    created_at: e.createdAt.toISOString(),
    ...(secret ? { secret } : {}),
  }
}

export async function createEndpoint(
  q: Queryable,
  key: Buffer,
  input: { customerId: string; url: string; events: string[] | null; description: string | null },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = newWebhookSecret()
  const { rows } = await q.query<EndpointRow>(
    `INSERT INTO webhook_endpoints (id, customer_id, url, events, description, secret_enc)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [newId(), input.customerId, input.url, input.events, input.description, sealSecret(key, secret)],
  )
  return { endpoint: fromRow(rows[0] as EndpointRow), secret }
}

export async function findEndpoint(
  q: Queryable,
  customerId: string,
  id: string,
): Promise<WebhookEndpoint | undefined> {
  const { rows } = await q.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL`,
    [id, customerId],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

/**
 * A customer's endpoints, counted under a transaction-scoped lock of that customer's endpoints, so
 * two creations at once cannot both see room for one more (call it in the creating transaction).
 */
export async function countEndpointsLocked(q: Queryable, customerId: string): Promise<number> {
  await q.query(`SELECT pg_advisory_xact_lock(hashtext('webhook_endpoints'), hashtext($1))`, [customerId])
  return countEndpoints(q, customerId)
}

export async function countEndpoints(q: Queryable, customerId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM webhook_endpoints WHERE customer_id = $1 AND deleted_at IS NULL',
    [customerId],
  )
  return Number(rows[0]?.n ?? 0)
}

/** Oldest first; `after` is the id of the last one of the previous page (ids are time-ordered). */
export async function listEndpoints(
  q: Queryable,
  customerId: string,
  after: string | undefined,
  limit: number,
): Promise<WebhookEndpoint[]> {
  const { rows } = await q.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints
      WHERE customer_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id > $2::uuid)
      ORDER BY id LIMIT $3`,
    [customerId, after ?? null, limit],
  )
  return rows.map(fromRow)
}

export async function updateEndpoint(
  q: Queryable,
  customerId: string,
  id: string,
  patch: { url?: string; events?: string[] | null; description?: string | null; enabled?: boolean },
): Promise<WebhookEndpoint | undefined> {
  const { rows } = await q.query<EndpointRow>(
    `UPDATE webhook_endpoints SET
       url = CASE WHEN $3 THEN $4 ELSE url END,
       events = CASE WHEN $5 THEN $6::text[] ELSE events END,
       description = CASE WHEN $7 THEN $8 ELSE description END,
       enabled = coalesce($9, enabled),
       -- Re-enabling starts a new failing streak.
       failing_since = CASE WHEN $9 THEN NULL ELSE failing_since END,
       updated_at = now()
     WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
    [
      id,
      customerId,
      patch.url !== undefined,
      patch.url ?? null,
      patch.events !== undefined,
      patch.events ?? null,
      patch.description !== undefined,
      patch.description ?? null,
      patch.enabled ?? null,
    ],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

export async function deleteEndpoint(q: Queryable, customerId: string, id: string): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, secret_enc = '\\x'::bytea,
            previous_secret_enc = NULL, updated_at = now()
      WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL`,
    [id, customerId],
  )
  return rowCount > 0
}

/** A new secret; the current one keeps signing for ROTATION_OVERLAP. */
export async function rotateSecret(
  q: Queryable,
  key: Buffer,
  customerId: string,
  id: string,
): Promise<{ endpoint: WebhookEndpoint; secret: string } | undefined> {
  const secret = newWebhookSecret()
  const { rows } = await q.query<EndpointRow>(
    `UPDATE webhook_endpoints SET previous_secret_enc = secret_enc, secret_enc = $3,
            previous_expires_at = now() + interval '${ROTATION_OVERLAP}', updated_at = now()
      WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
    [id, customerId, sealSecret(key, secret)],
  )
  return rows[0] ? { endpoint: fromRow(rows[0]), secret } : undefined
}

export interface SigningEndpoint {
  id: string
  url: string
  enabled: boolean
  /** The current secret first, then the one a rotation replaced while it still signs. */
  secrets: string[]
}

interface SigningRow {
  id: string
  url: string
  enabled: boolean
  secret_enc: Uint8Array
  previous_secret_enc: Uint8Array | null
}

const signing = (key: Buffer, r: SigningRow): SigningEndpoint => ({
  id: r.id,
  url: r.url,
  enabled: r.enabled,
  secrets: [
    openSecret(key, r.secret_enc),
    ...(r.previous_secret_enc ? [openSecret(key, r.previous_secret_enc)] : []),
  ],
})

const SIGNING_COLUMNS = `id, url, enabled, secret_enc,
  CASE WHEN previous_expires_at > now() THEN previous_secret_enc END AS previous_secret_enc`

/** An endpoint with its signing secrets (deleted ones are undefined). */
export async function signingEndpoint(
  q: Queryable,
  key: Buffer,
  id: string,
): Promise<SigningEndpoint | undefined> {
  const { rows } = await q.query<SigningRow>(
    `SELECT ${SIGNING_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL`,
    [id],
  )
  return rows[0] ? signing(key, rows[0]) : undefined
}

/** The secrets that sign a customer's status_callback_url requests: its oldest enabled endpoint's. */
export async function callbackSecrets(q: Queryable, key: Buffer, customerId: string): Promise<string[]> {
  const { rows } = await q.query<SigningRow>(
    `SELECT ${SIGNING_COLUMNS} FROM webhook_endpoints
      WHERE customer_id = $1 AND enabled AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1`,
    [customerId],
  )
  return rows[0] ? signing(key, rows[0]).secrets : []
}

/** Several endpoints with their signing secrets, by id (deleted ones are absent). */
export async function signingEndpoints(
  q: Queryable,
  key: Buffer,
  ids: string[],
): Promise<Map<string, SigningEndpoint>> {
  if (ids.length === 0) return new Map()
  const { rows } = await q.query<SigningRow>(
    `SELECT ${SIGNING_COLUMNS} FROM webhook_endpoints WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`,
    [ids],
  )
  return new Map(rows.map((r) => [r.id, signing(key, r)]))
}
