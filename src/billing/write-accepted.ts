import type { Queryable } from '../db/db.ts'
import type { NewMessage } from '../domain/message.ts'
import { batchColumns, insertBatches } from './batch-rows.ts'
import type { BulkAcceptRequest, Charged } from './types.ts'

/** The columns of `messages` written at accept, with their types: the rows messageColumns() builds. */
const MESSAGE_COLUMN_TYPES = {
  id: 'uuid',
  created_at: 'timestamptz',
  customer_id: 'uuid',
  api_key_id: 'uuid',
  to_number: 'text',
  from_sender: 'text',
  body: 'text',
  country: 'text',
  encoding: 'text',
  segments: 'integer',
  price_micros: 'bigint',
  currency: 'text',
  priority: 'text',
  client_reference: 'text',
  status_callback_url: 'text',
  metadata: 'jsonb',
  batch_id: 'uuid',
  expires_at: 'timestamptz',
  send_at: 'timestamptz',
  status: 'text',
} as const satisfies Record<keyof ReturnType<typeof messageColumns>, string>

export const MESSAGE_COLUMNS = Object.keys(MESSAGE_COLUMN_TYPES)
/** The column definitions of `json_to_recordset(...) AS x(...)` for message rows. */
export const MESSAGE_RECORD = Object.entries(MESSAGE_COLUMN_TYPES)
  .map(([c, t]) => `${c} ${t}`)
  .join(', ')

/**
 * Writes everything a group accepted in ONE statement (one round trip): batches, messages,
 * ledger charges, outbox rows, idempotency records and the new balances. Rows travel as JSON
 * parameters so the same SQL runs on pg and PGlite.
 */
const SQL = `
WITH rows AS (
  SELECT * FROM json_to_recordset($1::json) AS x(
    ${MESSAGE_RECORD}, balance_after bigint, trace_parent text)
), m AS (
  INSERT INTO messages (${MESSAGE_COLUMNS.join(', ')}, status_updated_at)
  SELECT ${MESSAGE_COLUMNS.join(', ')}, created_at FROM rows
), l AS (
  INSERT INTO ledger (customer_id, kind, amount, balance_after, message_id, created_at)
  SELECT customer_id, 'charge', -price_micros, balance_after, id, created_at FROM rows
), o AS (
  INSERT INTO outbox (message_id, message_created_at, customer_id, priority, available_at, trace_parent)
  SELECT id, created_at, customer_id, priority, coalesce(send_at, created_at), trace_parent FROM rows
), k AS (
  -- Under the customer locks no live key can exist here; an expired one is overwritten.
  INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, response, expires_at)
  SELECT customer_id, key, request_hash, status_code, response, now() + interval '24 hours'
    FROM json_to_recordset($2::json) AS x(customer_id uuid, key text, request_hash text, status_code integer, response text)
  ON CONFLICT (customer_id, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code,
        response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE idempotency_keys.expires_at <= now()
), b AS (
  ${insertBatches('$4')}
)
UPDATE customers c SET balance = x.balance
  FROM json_to_recordset($3::json) AS x(id uuid, balance bigint) WHERE c.id = x.id`

/** A message as the columns of `messages` (the JSON rows both accept paths send). */
export function messageColumns(m: NewMessage) {
  return {
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
  }
}

export async function writeAccepted(
  tx: Queryable,
  charged: Charged[],
  balances: Map<string, number>,
  batches: BulkAcceptRequest[] = [],
): Promise<void> {
  const messages = charged.map(({ message: m, balanceAfter }) => ({
    ...messageColumns(m),
    balance_after: balanceAfter,
    // Undefined (tracing off) is left out of the JSON: nothing more is sent per message.
    trace_parent: m.traceParent,
  }))
  const keys = charged
    .filter((c) => c.idempotency)
    .map((c) => ({
      customer_id: c.message.customerId,
      key: c.idempotency?.key,
      request_hash: c.idempotency?.requestHash,
      status_code: c.rendered.statusCode,
      response: c.rendered.body,
    }))
  const touched = [...new Set(charged.map((c) => c.message.customerId))].map((id) => ({
    id,
    balance: balances.get(id),
  }))
  await tx.query(SQL, [
    JSON.stringify(messages),
    JSON.stringify(keys),
    JSON.stringify(touched),
    JSON.stringify(batches.map((b) => batchColumns(b.batch, b.messages.length))),
  ])
}
