import type { Queryable } from '../db/db.ts'
import { newId } from '../domain/ids.ts'
import { toMicros } from '../domain/money.ts'
import { type ApiKey, issueApiKey } from './api-keys.ts'

export interface Customer {
  id: string
  name: string
  tier: string
  rateLimitMps: number
  currency: string
  balanceMicros: number
  status: CustomerStatus
  /** Addresses every key of the customer is limited to (besides each key's own list); null: any. */
  allowedIps: string[] | null
  createdAt: Date
}

export const CUSTOMER_STATUSES = ['active', 'suspended'] as const
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number]

interface CustomerRow {
  id: string
  name: string
  tier: string
  rate_limit_mps: number
  currency: string
  balance: string | number
  status: CustomerStatus
  allowed_ips: string[] | null
  created_at: Date
}

const COLUMNS = 'id, name, tier, rate_limit_mps, currency, balance, status, allowed_ips, created_at'

const fromRow = (r: CustomerRow): Customer => ({
  id: r.id,
  name: r.name,
  tier: r.tier,
  rateLimitMps: Number(r.rate_limit_mps),
  currency: r.currency,
  balanceMicros: toMicros(r.balance),
  status: r.status,
  allowedIps: r.allowed_ips,
  createdAt: new Date(r.created_at),
})

export async function insertCustomer(
  q: Queryable,
  input: { name: string; tier: string; rateLimitMps: number; currency: string },
): Promise<Customer> {
  const { rows } = await q.query<CustomerRow>(
    `INSERT INTO customers (id, name, tier, rate_limit_mps, currency) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${COLUMNS}`,
    [newId(), input.name, input.tier, input.rateLimitMps, input.currency],
  )
  return fromRow(rows[0] as CustomerRow)
}

export async function findCustomer(
  q: Queryable,
  id: string,
  forUpdate = false,
): Promise<Customer | undefined> {
  const { rows } = await q.query<CustomerRow>(
    `SELECT ${COLUMNS} FROM customers WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

export interface CustomerChange {
  name?: string
  tier?: string
  rateLimitMps?: number
  status?: CustomerStatus
  /** null clears the list. */
  allowedIps?: string[] | null
}

/** Applies the fields present in `change`; undefined when the customer does not exist. */
export async function updateCustomer(
  q: Queryable,
  id: string,
  change: CustomerChange,
): Promise<Customer | undefined> {
  const columns: [string, unknown][] = [
    ['name', change.name],
    ['tier', change.tier],
    ['rate_limit_mps', change.rateLimitMps],
    ['status', change.status],
    ['allowed_ips', change.allowedIps],
  ]
  const set = columns.filter(([, v]) => v !== undefined)
  if (set.length === 0) return findCustomer(q, id)
  const { rows } = await q.query<CustomerRow>(
    `UPDATE customers SET ${set.map(([c], i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1
     RETURNING ${COLUMNS}`,
    [id, ...set.map(([, v]) => v)],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** Customers ordered by id (UUIDv7: creation order), after the cursor id. */
export async function listCustomers(q: Queryable, limit: number, after?: string): Promise<Customer[]> {
  const { rows } = await q.query<CustomerRow>(
    `SELECT ${COLUMNS} FROM customers WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2`,
    [after ?? null, limit],
  )
  return rows.map(fromRow)
}

/** A new customer with its first API key; the secret is returned here only. */
export async function onboardCustomer(
  tx: Queryable,
  input: { name: string; tier: string; rateLimitMps: number; currency: string; allowedIps: string[] | null },
): Promise<{ customer: Customer; key: ApiKey; secret: string }> {
  const customer = await insertCustomer(tx, input)
  const { key, secret } = await issueApiKey(tx, customer.id, input.allowedIps)
  return { customer, key, secret }
}
