import type { Priority } from './message.ts'

/** A recipient the batch refused, by its position in the request (0-based). */
export interface RejectedRecipient {
  index: number
  to: string
  error: { code: string; message: string }
}

/** A validated batch ready to be charged with its messages (every one carries `batchId: id`). */
export interface NewBatch {
  id: string
  customerId: string
  /** Also the created_at of each of its messages: one partition holds the whole batch. */
  createdAt: Date
  from: string
  /** The template as sent. */
  body: string
  priority: Priority
  clientReference: string | null
  sendAt: Date | null
  total: number
  rejected: RejectedRecipient[]
  /** Sum of its messages' prices. */
  priceMicros: number
  currency: string
}

/** Most recipients in one batch (API.md). */
export const MAX_BATCH_RECIPIENTS = 10_000
