import type { Queryable } from '../db/db.ts'
import { toMicros } from '../domain/money.ts'
import {
  type AcceptItem,
  type AcceptOutcome,
  type BulkAcceptRequest,
  type Charged,
  customerOf,
  isBulk,
  keyOf,
  priceOf,
  type RenderAccepted,
} from './types.ts'
import { writeAccepted } from './write-accepted.ts'

/**
 * The accept transaction for one group of requests. Customers are locked in id order (so
 * concurrent groups cannot deadlock); each customer's requests are then decided in arrival
 * order against its balance (a batch all or nothing), and everything accepted is written with
 * one statement.
 */
export async function acceptBatch(
  tx: Queryable,
  requests: AcceptItem[],
  render: RenderAccepted,
): Promise<AcceptOutcome[]> {
  const customerIds = [...new Set(requests.map(customerOf))].sort()
  const { rows: locked } = await tx.query<{ id: string; balance: string | number }>(
    'SELECT id, balance FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [customerIds],
  )
  const balances = new Map(locked.map((r) => [r.id, toMicros(r.balance)]))
  const stored = await storedIdempotency(tx, requests)

  const outcomes: AcceptOutcome[] = []
  const charged: Charged[] = []
  const batches: BulkAcceptRequest[] = []
  // Requests repeating a key inside this group share the first one's outcome.
  const inGroup = new Map<string, { hash: string; outcome: AcceptOutcome }>()

  for (const req of requests) {
    const idem = req.idempotency
    const idemId = keyOf(req)
    const earlier = idemId ? (inGroup.get(idemId) ?? stored.get(idemId)) : undefined
    if (idem && earlier) {
      outcomes.push(
        earlier.hash === idem.requestHash ? replay(earlier.outcome) : { kind: 'idempotency_key_reused' },
      )
      continue
    }
    const customerId = customerOf(req)
    const balance = balances.get(customerId)
    const price = priceOf(req)
    let outcome: AcceptOutcome
    if (balance === undefined) outcome = { kind: 'customer_not_found' }
    else if (balance < price) {
      outcome = { kind: 'insufficient_balance', balanceMicros: balance, priceMicros: price }
    } else if (isBulk(req)) {
      // One ledger charge per message (refunds and usage stay per message), all in this group.
      let left = balance
      req.messages.forEach((message, n) => {
        left -= message.priceMicros
        const first = n === 0
        charged.push({
          message,
          balanceAfter: left,
          rendered: req.response,
          idempotency: first ? idem : undefined,
        })
      })
      balances.set(customerId, left)
      batches.push(req)
      outcome = { kind: 'accepted', ...req.response }
    } else {
      const m = req.message
      const balanceAfter = balance - m.priceMicros
      balances.set(m.customerId, balanceAfter)
      const rendered = render(m, balanceAfter)
      charged.push({ message: m, balanceAfter, rendered, idempotency: idem })
      outcome = { kind: 'accepted', ...rendered }
    }
    if (idem && idemId) inGroup.set(idemId, { hash: idem.requestHash, outcome })
    outcomes.push(outcome)
  }

  if (charged.length > 0 || batches.length > 0) await writeAccepted(tx, charged, balances, batches)
  return outcomes
}

function replay(o: AcceptOutcome): AcceptOutcome {
  return o.kind === 'accepted' || o.kind === 'replayed'
    ? { kind: 'replayed', statusCode: o.statusCode, body: o.body }
    : o
}

async function storedIdempotency(
  tx: Queryable,
  requests: AcceptItem[],
): Promise<Map<string, { hash: string; outcome: AcceptOutcome }>> {
  const keyed = requests.filter((r) => r.idempotency)
  const found = new Map<string, { hash: string; outcome: AcceptOutcome }>()
  if (keyed.length === 0) return found
  const { rows } = await tx.query<{
    customer_id: string
    key: string
    request_hash: string
    status_code: number
    response: string
  }>(
    `SELECT k.customer_id, k.key, k.request_hash, k.status_code, k.response
       FROM idempotency_keys k
       JOIN unnest($1::uuid[], $2::text[]) AS q(customer_id, key) USING (customer_id, key)
      WHERE k.expires_at > now()`,
    [keyed.map(customerOf), keyed.map((r) => r.idempotency?.key)],
  )
  for (const r of rows) {
    found.set(`${r.customer_id}\n${r.key}`, {
      hash: r.request_hash,
      outcome: { kind: 'replayed', statusCode: Number(r.status_code), body: r.response },
    })
  }
  return found
}
