import type { NewBatch } from '../domain/batch.ts'

/** The columns of `batches` written at accept, with their types: the rows batchColumns() builds. */
const BATCH_COLUMN_TYPES = {
  id: 'uuid',
  customer_id: 'uuid',
  created_at: 'timestamptz',
  from_sender: 'text',
  body: 'text',
  priority: 'text',
  client_reference: 'text',
  send_at: 'timestamptz',
  total: 'integer',
  accepted: 'integer',
  rejected: 'jsonb',
  price_micros: 'bigint',
  currency: 'text',
  open_messages: 'integer',
} as const satisfies Record<keyof ReturnType<typeof batchColumns>, string>

const COLUMNS = Object.keys(BATCH_COLUMN_TYPES)
const RECORD = Object.entries(BATCH_COLUMN_TYPES)
  .map(([c, t]) => `${c} ${t}`)
  .join(', ')

/** A batch as the columns of `batches`; every accepted message starts open (not final). */
export function batchColumns(b: NewBatch, accepted: number) {
  return {
    id: b.id,
    customer_id: b.customerId,
    created_at: b.createdAt.toISOString(),
    from_sender: b.from,
    body: b.body,
    priority: b.priority,
    client_reference: b.clientReference,
    send_at: b.sendAt?.toISOString() ?? null,
    total: b.total,
    accepted,
    rejected: b.rejected,
    price_micros: b.priceMicros,
    currency: b.currency,
    open_messages: accepted,
  }
}

/**
 * `INSERT INTO batches` of the JSON rows in `param` (a CTE body); `gate` is a FROM item the
 * insert joins, so it happens only with the rest of the statement (accept-fast's `ok`).
 */
export const insertBatches = (param: string, gate = '') =>
  `INSERT INTO batches (${COLUMNS.join(', ')})
   SELECT ${COLUMNS.map((c) => `b.${c}`).join(', ')}
     FROM json_to_recordset(${param}::json) AS b(${RECORD}) ${gate}`
