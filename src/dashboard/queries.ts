// The operator's reads that the v1 admin API has no endpoint for: a message by id whatever its
// customer, customers by name, a customer's keys. Each is an index lookup.

import type { Queryable } from '../db/db.ts'
import { uuidV7Time } from '../domain/ids.ts'
import { formatAmount, toMicros } from '../domain/money.ts'

/** The customer owning a message id (one partition probe: the UUIDv7 carries created_at). */
export async function messageOwner(q: Queryable, id: string): Promise<string | undefined> {
  const t = uuidV7Time(id)
  if (t === null) return undefined
  const { rows } = await q.query<{ customer_id: string }>(
    'SELECT customer_id FROM messages WHERE id = $1 AND created_at = $2',
    [id, new Date(t).toISOString()],
  )
  return rows[0]?.customer_id
}

export interface CustomerHit {
  id: string
  name: string
  tier: string
  status: string
  rate_limit_mps: number
  balance: { amount: string; currency: string }
  created_at: string
}

/** Customers whose name contains `text` (case-insensitive) or whose id is `text`; newest first. */
export async function searchCustomers(q: Queryable, text: string, limit: number): Promise<CustomerHit[]> {
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const { rows } = await q.query<{
    id: string
    name: string
    tier: string
    status: string
    rate_limit_mps: number
    balance: string | number
    currency: string
    created_at: Date
  }>(
    `SELECT id, name, tier, status, rate_limit_mps, balance, currency, created_at FROM customers
      WHERE name ILIKE $1 OR id::text = lower($2) ORDER BY id DESC LIMIT $3`,
    [pattern, text, limit],
  )
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    tier: r.tier,
    status: r.status,
    rate_limit_mps: Number(r.rate_limit_mps),
    balance: { amount: formatAmount(toMicros(r.balance)), currency: r.currency },
    created_at: new Date(r.created_at).toISOString(),
  }))
}

export interface KeyRow {
  id: string
  prefix: string
  allowed_ips: string[] | null
  created_at: string
  revoked_at: string | null
}

/** A customer's API keys (prefix only; the secret is never stored), newest first. */
export async function customerKeys(q: Queryable, customerId: string): Promise<KeyRow[]> {
  const { rows } = await q.query<{
    id: string
    prefix: string
    allowed_ips: string[] | null
    created_at: Date
    revoked_at: Date | null
  }>(
    `SELECT id, prefix, allowed_ips, created_at, revoked_at FROM api_keys
      WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 200`,
    [customerId],
  )
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    allowed_ips: r.allowed_ips,
    created_at: new Date(r.created_at).toISOString(),
    revoked_at: r.revoked_at ? new Date(r.revoked_at).toISOString() : null,
  }))
}
