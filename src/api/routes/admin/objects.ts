import { Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import { invalidIpEntry } from '../../../accounts/allowed-ips.ts'
import type { ApiKey } from '../../../accounts/api-keys.ts'
import type { Customer } from '../../../accounts/customers.ts'
import type { LedgerEntry } from '../../../accounts/ledger.ts'
import { money } from '../../../messages/message-object.ts'
import { invalidRequest, sendJsonText } from '../../errors.ts'
import { Money, Nullable } from '../../schemas.ts'

// The admin resources' shapes (one TypeBox schema each, for validation, serialization and
// OpenAPI) and how domain objects render into them.

/** `active` | `suspended` (a suspended customer's keys get 403 forbidden). */
export const StatusSchema = Type.Union([Type.Literal('active'), Type.Literal('suspended')])
export const CustomerObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('customer'),
  name: Type.String(),
  tier: Type.String(),
  rate_limit_mps: Type.Integer(),
  balance: Money,
  status: StatusSchema,
  allowed_ips: Nullable(Type.Array(Type.String())),
  created_at: Type.String(),
})
export const KeyObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('api_key'),
  customer_id: Type.String(),
  prefix: Type.String(),
  allowed_ips: Nullable(Type.Array(Type.String())),
  created_at: Type.String(),
  revoked_at: Nullable(Type.String()),
})
export const EntryObject = Type.Object({
  id: Type.Integer(),
  object: Type.Literal('ledger_entry'),
  customer_id: Type.String(),
  kind: Type.String(),
  amount: Money,
  balance_after: Money,
  message_id: Nullable(Type.String()),
  reference: Nullable(Type.String()),
  created_at: Type.String(),
})
/** The secret is in the first answer only; an idempotent replay says it was shown instead. */
export const ShownOnce = Type.Object({
  api_key: Type.Optional(Type.String({ description: 'The secret; only in the first answer' })),
  api_key_shown_once: Type.Optional(
    Type.Literal(true, { description: 'In an idempotent replay, in place of api_key' }),
  ),
})
export const Name = Type.String({ minLength: 1, maxLength: 200 })
export const Tier = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9_-]+$' })
export const RateLimit = Type.Integer({ minimum: 1, maximum: 1_000_000 })
export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) })
export const IpEntry = Type.String({ maxLength: 64, pattern: '^[0-9A-Fa-f:.]+(/\\d{1,3})?$' })

export const customerObject = (c: Customer) => ({
  id: c.id,
  object: 'customer' as const,
  name: c.name,
  tier: c.tier,
  rate_limit_mps: c.rateLimitMps,
  balance: money(c.balanceMicros, c.currency),
  status: c.status,
  allowed_ips: c.allowedIps,
  created_at: c.createdAt.toISOString(),
})
export const keyObject = (k: ApiKey) => ({
  id: k.id,
  object: 'api_key' as const,
  customer_id: k.customerId,
  prefix: k.prefix,
  allowed_ips: k.allowedIps,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
})
export const entryObject = (e: LedgerEntry, currency: string) => ({
  id: e.id,
  object: 'ledger_entry' as const,
  customer_id: e.customerId,
  kind: e.kind,
  amount: money(e.amountMicros, currency),
  balance_after: money(e.balanceAfterMicros, currency),
  message_id: e.messageId,
  reference: e.reference,
  created_at: e.createdAt.toISOString(),
})

export const send = (reply: FastifyReply, out: { statusCode: number; body: string; replayed: boolean }) => {
  if (out.replayed) reply.header('idempotent-replayed', 'true')
  return sendJsonText(reply, out.statusCode, out.body)
}

/**
 * A 201 that shows a new API key: the answer carries `api_key`, the stored idempotent replay
 * carries `api_key_shown_once: true` instead, so no secret is kept in clear for 24 h.
 */
export const withSecret = (body: object, secret: string) => ({
  statusCode: 201,
  body: JSON.stringify({ ...body, api_key: secret }),
  replayBody: JSON.stringify({ ...body, api_key_shown_once: true }),
})

export function checkIps(ips: string[] | null | undefined): void {
  const bad = invalidIpEntry(ips ?? [])
  if (bad !== undefined) throw invalidRequest(`'${bad}' is not an IP address or CIDR range`, 'allowed_ips')
}
