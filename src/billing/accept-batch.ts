import type { Queryable } from '../db/db.ts'
import { toMicros } from '../domain/money.ts'
import type { AcceptOutcome, AcceptRequest, NewMessage, RenderAccepted } from './types.ts'

const IDEMPOTENCY_TTL = '24 hours'

interface Charged {
  message: NewMessage
  balanceAfter: number
  rendered: { statusCode: number; body: string }
  idempotency: AcceptRequest['idempotency']
}

/**
 * The accept transaction for one group of requests. Customers are locked in id order (so
 * concurrent groups cannot deadlock); each customer's requests are then decided in arrival
 * order against its balance, and everything accepted is written with one statement per table.
 */
export async function acceptBatch(
  tx: Queryable,
  requests: AcceptRequest[],
  render: RenderAccepted,
): Promise<AcceptOutcome[]> {
  const customerIds = [...new Set(requests.map((r) => r.message.customerId))].sort()
  const { rows: locked } = await tx.query<{ id: string; balance: string | number }>(
    'SELECT id, balance FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [customerIds],
  )
  const balances = new Map(locked.map((r) => [r.id, toMicros(r.balance)]))
  const stored = await storedIdempotency(tx, requests)

  const outcomes: AcceptOutcome[] = []
  const charged: Charged[] = []
  // Requests repeating a key inside this group share the first one's outcome.
  const inGroup = new Map<string, { hash: string; outcome: AcceptOutcome }>()

  for (const req of requests) {
    const m = req.message
    const idem = req.idempotency
    const idemId = idem ? `${m.customerId}\n${idem.key}` : undefined
    const earlier = idemId ? (inGroup.get(idemId) ?? stored.get(idemId)) : undefined
    if (idem && earlier) {
      outcomes.push(
        earlier.hash === idem.requestHash ? replay(earlier.outcome) : { kind: 'idempotency_key_reused' },
      )
      continue
    }
    const balance = balances.get(m.customerId)
    let outcome: AcceptOutcome
    if (balance === undefined) outcome = { kind: 'customer_not_found' }
    else if (balance < m.priceMicros) {
      outcome = { kind: 'insufficient_balance', balanceMicros: balance, priceMicros: m.priceMicros }
    } else {
      const balanceAfter = balance - m.priceMicros
      balances.set(m.customerId, balanceAfter)
      const rendered = render(m, balanceAfter)
      charged.push({ message: m, balanceAfter, rendered, idempotency: idem })
      outcome = { kind: 'accepted', ...rendered }
    }
    if (idem && idemId) inGroup.set(idemId, { hash: idem.requestHash, outcome })
    outcomes.push(outcome)
  }

  if (charged.length > 0) await writeAccepted(tx, charged, balances)
  return outcomes
}

function replay(o: AcceptOutcome): AcceptOutcome {
  return o.kind === 'accepted' || o.kind === 'replayed'
    ? { kind: 'replayed', statusCode: o.statusCode, body: o.body }
    : o
}

async function storedIdempotency(
  tx: Queryable,
  requests: AcceptRequest[],
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
    [keyed.map((r) => r.message.customerId), keyed.map((r) => r.idempotency?.key)],
  )
  for (const r of rows) {
    found.set(`${r.customer_id}\n${r.key}`, {
      hash: r.request_hash,
      outcome: { kind: 'replayed', statusCode: Number(r.status_code), body: r.response },
    })
  }
  return found
}

async function writeAccepted(
  tx: Queryable,
  charged: Charged[],
  balances: Map<string, number>,
): Promise<void> {
  const messages = charged.map(({ message: m, balanceAfter }) => ({
    id: m.id,
    created_at: m.createdAt.toISOString(),
    customer_id: m.customerId,
    api_key_id: m.apiKeyId,
    to_number: m.to,
    from_sender: m.from,
    body: m.body,
    country: m.country,
    encoding: m.encoding,
    segments: m.segments,
    price_micros: m.priceMicros,
    currency: m.currency,
    priority: m.priority,
    client_reference: m.clientReference,
    status_callback_url: m.statusCallbackUrl,
    metadata: m.metadata,
    batch_id: m.batchId,
    expires_at: m.expiresAt.toISOString(),
    send_at: m.sendAt?.toISOString() ?? null,
    status: m.status,
    balance_after: balanceAfter,
  }))
  await tx.query(
    `WITH rows AS (
       SELECT * FROM json_to_recordset($1::json) AS x(
         id uuid, created_at timestamptz, customer_id uuid, api_key_id uuid, to_number text,
         from_sender text, body text, country text, encoding text, segments integer,
         price_micros bigint, currency text, priority text, client_reference text,
         status_callback_url text, metadata jsonb, batch_id uuid, expires_at timestamptz,
         send_at timestamptz, status text, balance_after bigint)
     ), m AS (
       INSERT INTO messages (id, created_at, customer_id, api_key_id, to_number, from_sender, body,
         country, encoding, segments, price_micros, currency, priority, client_reference,
         status_callback_url, metadata, batch_id, expires_at, send_at, status, status_updated_at)
       SELECT id, created_at, customer_id, api_key_id, to_number, from_sender, body, country,
         encoding, segments, price_micros, currency, priority, client_reference,
         status_callback_url, metadata, batch_id, expires_at, send_at, status, created_at
       FROM rows
     ), l AS (
       INSERT INTO ledger (customer_id, kind, amount, balance_after, message_id, created_at)
       SELECT customer_id, 'charge', -price_micros, balance_after, id, created_at FROM rows
     )
     INSERT INTO outbox (message_id, message_created_at, customer_id, priority, available_at)
     SELECT id, created_at, customer_id, priority, coalesce(send_at, created_at) FROM rows`,
    [JSON.stringify(messages)],
  )
  const keyed = charged.filter((c) => c.idempotency)
  if (keyed.length > 0) {
    await tx.query(
      `INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, response, expires_at)
       SELECT customer_id, key, request_hash, status_code, response, now() + interval '${IDEMPOTENCY_TTL}'
         FROM json_to_recordset($1::json) AS x(customer_id uuid, key text, request_hash text, status_code integer, response text)
       ON CONFLICT (customer_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code,
             response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at
         WHERE idempotency_keys.expires_at <= now()`,
      [
        JSON.stringify(
          keyed.map((c) => ({
            customer_id: c.message.customerId,
            key: c.idempotency?.key,
            request_hash: c.idempotency?.requestHash,
            status_code: c.rendered.statusCode,
            response: c.rendered.body,
          })),
        ),
      ],
    )
  }
  const touched = [...new Set(charged.map((c) => c.message.customerId))]
  await tx.query(
    `UPDATE customers c SET balance = x.balance
       FROM unnest($1::uuid[], $2::bigint[]) AS x(id, balance) WHERE c.id = x.id`,
    [touched, touched.map((id) => String(balances.get(id)))],
  )
}
