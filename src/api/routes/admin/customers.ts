import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { issueApiKey, revokeApiKey } from '../../../accounts/api-keys.ts'
import { BalanceLimitError, creditCustomer } from '../../../accounts/credits.ts'
import { findCustomer, listCustomers, onboardCustomer, updateCustomer } from '../../../accounts/customers.ts'
import { ADMIN_SCOPE, idempotent } from '../../../accounts/idempotent.ts'
import type { KeyCache } from '../../../accounts/key-cache.ts'
import { listLedger } from '../../../accounts/ledger.ts'
import type { Db } from '../../../db/db.ts'
import { isUuid } from '../../../domain/ids.ts'
import { InvalidAmountError, parseAmount } from '../../../domain/money.ts'
import { money } from '../../../messages/message-object.ts'
import { invalidRequest, notFound } from '../../errors.ts'
import { idempotencyOf } from '../../idempotency-key.ts'
import { decodeCursor, page } from '../../pagination.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { ErrorBody, ListQuery, listOf, Money, Nullable } from '../../schemas.ts'
import {
  CustomerObject,
  checkIps,
  customerObject,
  EntryObject,
  entryObject,
  IdParams,
  IpEntry,
  KeyObject,
  keyObject,
  Name,
  RateLimit,
  ShownOnce,
  StatusSchema,
  send,
  Tier,
  withSecret,
} from './objects.ts'

export interface AdminDeps {
  db: Db
  auth: Authenticator
  keys: KeyCache
  currency: string
  defaultRateLimitMps: number
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
            name: Name,
            rate_limit_mps: Type.Optional(RateLimit),
            tier: Type.Optional(Tier),
            allowed_ips: Type.Optional(Nullable(Type.Array(IpEntry, { maxItems: 100 }))),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Composite([CustomerObject, Type.Object({ api_key_id: Type.String() }), ShownOnce]),
          '4xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const b = request.body
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
          const body = { ...customerObject(customer), api_key_id: key.id }
          return withSecret(body, secret)
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

  app.patch(
    '/v1/admin/customers/:id',
    {
      schema: {
        summary: "Change a customer's name, rate limit, tier, IP allow-list or status",
        description:
          '`status: suspended` refuses every key of the customer (403 forbidden) until it is `active` again; ' +
          '`allowed_ips` (null clears it) limits every key of the customer, besides each key’s own list.',
        tags: ['admin'],
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            rate_limit_mps: Type.Optional(RateLimit),
            tier: Type.Optional(Tier),
            allowed_ips: Type.Optional(Nullable(Type.Array(IpEntry, { maxItems: 100 }))),
            status: Type.Optional(StatusSchema),
          },
          { additionalProperties: false },
        ),
        response: { 200: CustomerObject, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const b = request.body
      checkIps(b.allowed_ips)
      const id = request.params.id.toLowerCase()
      const c = isUuid(id)
        ? await updateCustomer(db, id, {
            name: b.name,
            tier: b.tier,
            rateLimitMps: b.rate_limit_mps,
            status: b.status,
            allowedIps:
              b.allowed_ips === undefined ? undefined : b.allowed_ips?.length ? b.allowed_ips : null,
          })
        : undefined
      if (!c) throw notFound('customer')
      // Cached principals carry the status, limits and allow-list: forget this customer's (every
      // api process at once over the bus when there is one, else within SMSGW_AUTH_CACHE_MS).
      keys.evictCustomer(id)
      return customerObject(c)
    },
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
      const id = request.params.id.toLowerCase()
      if (!isUuid(id)) throw notFound('customer')
      const out = await db.transaction((tx) =>
        idempotent(tx, ADMIN_SCOPE, idempotencyOf(request), async () => {
          const done = await creditCustomer(tx, id, amount, reference).catch((err: unknown) => {
            if (err instanceof BalanceLimitError) throw invalidRequest(err.message, 'amount')
            throw err
          })
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
          201: Type.Composite([KeyObject, ShownOnce]),
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
          return withSecret(keyObject(key), secret)
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
