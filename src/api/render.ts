import { BALANCE_TOKEN } from '../billing/accept-fast.ts'
import type { NewMessage } from '../domain/message.ts'
import { messageObject, money } from '../messages/message-object.ts'

/** The 202 body of POST /v1/messages: the message plus the balance left after its charge. */
export function renderAccepted(m: NewMessage, balanceAfterMicros: number | null) {
  const body = JSON.stringify({
    ...messageObject({ ...m, updatedAt: m.createdAt }),
    balance:
      balanceAfterMicros === null
        ? { amount: BALANCE_TOKEN, currency: m.currency }
        : money(balanceAfterMicros, m.currency),
  })
  return { statusCode: 202, body }
}
