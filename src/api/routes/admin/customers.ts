import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import { type ApiKey, issueApiKey, revokeApiKey } from '../../../accounts/api-keys.ts'
import { creditCustomer } from '../../../accounts/credits.ts'
import { type Customer, findCustomer, listCustomers, onboardCustomer } from '../../../accounts/customers.ts'
import { ADMIN_SCOPE, idempotent } from '../../../accounts/idempotent.ts'
import type { KeyCache } from '../../../accounts/key-cache.ts'
import { type LedgerEntry, listLedger } from '../../../accounts/ledger.ts'
import type { Db } from '../../../db/db.ts'
import { isUuid } from '../../../domain/ids.ts'
import { InvalidAmountError, parseAmount } from '../../../domain/money.ts'
import { invalidRequest, notFound, sendJsonText } from '../../errors.ts'
import { idempotencyOf } from '../../idempotency-key.ts'
import { decodeCursor, page } from '../../pagination.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { money } from '../../render.ts'
import { ErrorBody, ListQuery, listOf, Money, Nullable } from '../../schemas.ts'

export interface AdminDeps {
  db: Db
  auth: Authenticator
  keys: KeyCache
  currency: string
  defaultRateLimitMps: number
}

const CustomerObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('customer'),
  name: Type.String(),
  tier: Type.String(),
  rate_limit_mps: Type.Integer(),
  balance: Money,
  created_at: Type.String(),
})
const KeyObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('api_key'),
  customer_id: Type.String(),
  prefix: Type.String(),
  allowed_ips: Nullable(Type.Array(Type.String())),
  created_at: Type.String(),
  revoked_at: Nullable(Type.String()),
})
const EntryObject = Type.Object({
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
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) })
const IpEntry = Type.String({ maxLength: 64, pattern: '^[0-9A-Fa-f:.]+(/\\d{1,3})?$' })

const customerObject = (c: Customer) => ({
  id: c.id,
  object: 'customer' as const,
  name: c.name,
  tier: c.tier,
  rate_limit_mps: c.rateLimitMps,
  balance: money(c.balanceMicros, c.currency),
  created_at: c.createdAt.toISOString(),
})
const keyObject = (k: ApiKey) => ({
  id: k.id,
  object: 'api_key' as const,
  customer_id: k.customerId,
  prefix: k.prefix,
  allowed_ips: k.allowedIps,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
})
const entryObject = (e: LedgerEntry, currency: string) => ({
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

const send = (reply: FastifyReply, out: { statusCode: number; body: string; replayed: boolean }) => {
  if (out.replayed) reply.header('idempotent-replayed', 'true')
  return sendJsonText(reply, out.statusCode, out.body)
}

function checkIps(ips: string[] | null | undefined): void {
  for (const ip of ips ?? []) {
    const [addr, bits] = ip.split('/')
    const family = addr?.includes(':') ? 6 : 4
    const valid =
      family === 4
        ? /^(\d{1,3})(\.\d{1,3}){3}$/.test(addr ?? '') &&
          (addr ?? '').split('.').every((o) => Number(o) <= 255)
        : true
    if (!valid || (bits !== undefined && Number(bits) > (family === 4 ? 32 : 128))) {
      throw invalidRequest(`'${ip}' is not an IP address or CIDR range`, 'allowed_ips')
    }
  }
}

export const adminCustomerRoutes: FastifyPluginAsyncTypebox<AdminDeps> = async (app, deps) => {
  const { db, auth, keys, currency } = deps
  app.addHook('onRequest', auth.admin)

  const customerOr404 = async (id: string) => {
    const c = isUuid(id) ? await findCustomer(db, id.toLowerCase()) : undefined
    if (!c) throw notFound('customer')
    return c
  }

  app.post(
    '/v1/admin/customers',
    {
      schema: {
        summary: 'Create a customer with its first API key (shown once)',
        tags: ['admin'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            rate_limit_mps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
            tier: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9_-]+$' })),
            allowed_ips: Type.Optional(Nullable(Type.Array(IpEntry, { maxItems: 100 }))),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Composite([
            CustomerObject,
            Type.Object({ api_key: Type.String(), api_key_id: Type.String() }),
          ]),
          '4xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const b = request.body
      if (b.name.includes('\u0000')) throw invalidRequest("'name' must not contain NUL characters", 'name')
      checkIps(b.allowed_ips)
      const out = await db.transaction((tx) =>
        idempotent(tx, ADMIN_SCOPE, idempotencyOf(request), async () => {
          const { customer, key, secret } = await onboardCustomer(tx, {
            name: b.name,
            tier: b.tier ?? 'standard',
            rateLimitMps: b.rate_limit_mps ?? deps.defaultRateLimitMps,
            currency,
            allowedIps: b.allowed_ips ?? null,
          })
          const body = { ...customerObject(customer), api_key: secret, api_key_id: key.id }
          return { statusCode: 201, body: JSON.stringify(body) }
        }),
      )
      return send(reply, out)
    },
  )

  app.get(
    '/v1/admin/customers',
    {
      schema: {
        summary: 'Customers with balances',
        tags: ['admin'],
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: listOf(CustomerObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50
      const after = decodeCursor(request.query.cursor, isUuid)
      return page(await listCustomers(db, limit + 1, after), limit, (c) => c.id, customerObject)
    },
  )

  app.get(
    '/v1/admin/customers/:id',
    { schema: { tags: ['admin'], params: IdParams, response: { 200: CustomerObject, '4xx': ErrorBody } } },
    async (request) => customerObject(await customerOr404(request.params.id)),
  )

  app.post(
    '/v1/admin/customers/:id/credits',
    {
      schema: {
        summary: "Credit a customer's prepaid balance (a ledger entry)",
        tags: ['admin'],
        params: IdParams,
        body: Type.Object(
          {
            amount: Type.String({ maxLength: 40, description: 'Positive decimal string, up to 6 decimals' }),
            reference: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ entry: EntryObject, balance: Money }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      let amount: number
      try {
        amount = parseAmount(request.body.amount)
      } catch (err) {
        if (err instanceof InvalidAmountError) throw invalidRequest(err.message, 'amount')
        throw err
      }
      if (amount <= 0) throw invalidRequest("'amount' must be greater than zero", 'amount')
      const reference = request.body.reference ?? null
      if (reference?.includes('\u0000'))
        throw invalidRequest("'reference' must not contain NUL characters", 'reference')
      const id = request.params.id.toLowerCase()
      if (!isUuid(id)) throw notFound('customer')
      const out = await db.transaction((tx) =>
        idempotent(tx, ADMIN_SCOPE, idempotencyOf(request), async () => {
          const done = await creditCustomer(tx, id, amount, reference)
          if (!done) throw notFound('customer')
          const { entry, customer: c } = done
          const body = {
            entry: entryObject(entry, c.currency),
            balance: money(entry.balanceAfterMicros, c.currency),
          }
          return { statusCode: 201, body: JSON.stringify(body) }
        }),
      )
      return send(reply, out)
    },
  )

  app.get(
    '/v1/admin/customers/:id/ledger',
    {
      schema: {
        summary: "The customer's append-only ledger, oldest first",
        tags: ['admin'],
        params: IdParams,
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: listOf(EntryObject), '4xx': ErrorBody },
      },
    },
    async (request) => {
      const c = await customerOr404(request.params.id)
      const limit = request.query.limit ?? 50
      const after = decodeCursor(request.query.cursor, (k) => /^\d{1,18}$/.test(k))
      const rows = await listLedger(db, c.id, limit + 1, after ? Number(after) : undefined)
      return page(
        rows,
        limit,
        (e) => e.id,
        (e) => entryObject(e, c.currency),
      )
    },
  )

  app.post(
    '/v1/admin/customers/:id/api_keys',
    {
      schema: {
        summary: 'Issue an API key (the secret is shown once)',
        tags: ['admin'],
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            { allowed_ips: Type.Optional(Nullable(Type.Array(IpEntry, { maxItems: 100 }))) },
            { additionalProperties: false },
          ),
        ),
        response: {
          201: Type.Composite([KeyObject, Type.Object({ api_key: Type.String() })]),
          '4xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const c = await customerOr404(request.params.id)
      const ips = request.body?.allowed_ips ?? null
      checkIps(ips)
      const out = await db.transaction((tx) =>
        idempotent(tx, ADMIN_SCOPE, idempotencyOf(request), async () => {
          const { key, secret } = await issueApiKey(tx, c.id, ips)
          return { statusCode: 201, body: JSON.stringify({ ...keyObject(key), api_key: secret }) }
        }),
      )
      return send(reply, out)
    },
  )

  app.delete(
    '/v1/admin/customers/:id/api_keys/:key_id',
    {
      schema: {
        summary: 'Revoke an API key',
        tags: ['admin'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }), key_id: Type.String({ maxLength: 64 }) }),
        response: { 200: KeyObject, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const { id, key_id } = request.params
      const key =
        isUuid(id) && isUuid(key_id)
          ? await revokeApiKey(db, id.toLowerCase(), key_id.toLowerCase())
          : undefined
      if (!key) throw notFound('api_key')
      keys.evictKey(key.id)
      return keyObject(key)
    },
  )
}
