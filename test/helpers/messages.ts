import { creditCustomer } from '../../src/accounts/credits.ts'
import { insertCustomer } from '../../src/accounts/customers.ts'
import { acceptBatch } from '../../src/billing/accept-batch.ts'
import type { AcceptRequest } from '../../src/billing/types.ts'
import type { Db } from '../../src/db/db.ts'
import { newId, uuidV7Time } from '../../src/domain/ids.ts'
import type { Priority } from '../../src/domain/message.ts'
import { formatAmount } from '../../src/domain/money.ts'

export const renderStub = (m: { id: string }, balance: number | null) => ({
  statusCode: 202,
  body: JSON.stringify({
    id: m.id,
    balance: balance === null ? '__smsgw_balance_after__' : formatAmount(balance),
  }),
})

/** An accept request as the API would build it (US number, 1 GSM-7 segment). */
export function acceptRequest(
  customerId: string,
  opts: { priceMicros?: number; priority?: Priority; idempotencyKey?: string; body?: string } = {},
): AcceptRequest {
  const id = newId()
  const createdAt = new Date(uuidV7Time(id) as number)
  return {
    message: {
      id,
      createdAt,
      customerId,
      apiKeyId: null,
      to: '+14155550123',
      from: 'ACME',
      body: opts.body ?? 'hi',
      country: 'US',
      encoding: 'GSM-7',
      segments: 1,
      priceMicros: opts.priceMicros ?? 7900,
      currency: 'USD',
      priority: opts.priority ?? 'normal',
      clientReference: null,
      statusCallbackUrl: null,
      metadata: null,
      batchId: null,
      expiresAt: new Date(createdAt.getTime() + 3_600_000),
      sendAt: null,
      status: 'queued',
    },
    ...(opts.idempotencyKey ? { idempotency: { key: opts.idempotencyKey, requestHash: 'h1' } } : {}),
  }
}

/** A funded customer straight in the database (no HTTP). */
export async function fundedCustomer(
  db: Db,
  opts: { credit?: number; rateLimitMps?: number; name?: string } = {},
) {
  const c = await insertCustomer(db, {
    name: opts.name ?? 'c',
    tier: 'standard',
    rateLimitMps: opts.rateLimitMps ?? 1000,
    currency: 'USD',
  })
  await db.transaction((tx) => creditCustomer(tx, c.id, opts.credit ?? 1_000_000_000, 'test'))
  return c.id
}

/** Accepts n messages for a customer in chunks, as the biller would. */
export async function acceptMany(db: Db, customerId: string, n: number, priority: Priority = 'normal') {
  const ids: string[] = []
  for (let done = 0; done < n; done += 2000) {
    const reqs = Array.from({ length: Math.min(2000, n - done) }, () =>
      acceptRequest(customerId, { priority }),
    )
    await db.transaction((tx) => acceptBatch(tx, reqs, renderStub))
    ids.push(...reqs.map((r) => r.message.id))
  }
  return ids
}
