/** Message statuses in the order they may move; a status never moves back (a late `sent` never overwrites `delivered`). */
export const STATUS_RANK = {
  scheduled: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
  rejected: 4,
  expired: 4,
  canceled: 4,
  unknown: 4,
} as const

export type MessageStatus = keyof typeof STATUS_RANK

export const isFinal = (s: MessageStatus): boolean => STATUS_RANK[s] === 4

/** Every status, in the order a message may move through them. */
export const STATUSES = Object.keys(STATUS_RANK) as MessageStatus[]
/** The statuses a message never leaves. */
export const FINAL_STATUSES: readonly MessageStatus[] = STATUSES.filter(isFinal)
/** True for a final status, given any string (a status read back from the database or a request). */
export const isFinalStatus = (s: string): boolean => (FINAL_STATUSES as readonly string[]).includes(s)

/** Statuses after which the customer gets the charge back: no carrier ever took the message. */
export const REFUNDED_WHEN_UNSENT: ReadonlySet<MessageStatus> = new Set([
  'failed',
  'rejected',
  'expired',
  'canceled',
])

export function canMove(from: MessageStatus, to: MessageStatus): boolean {
  return STATUS_RANK[to] > STATUS_RANK[from]
}
