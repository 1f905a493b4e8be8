import fastJson from 'fast-json-stringify'
import { BALANCE_TOKEN } from '../billing/accept-fast.ts'
import type { NewMessage } from '../domain/message.ts'
import { messageObject, money } from '../messages/message-object.ts'
import { Accepted } from './schemas.ts'

/**
 * The 202 body, serialized by a function fast-json-stringify compiles once from the route's own
 * response schema (`Accepted`). It writes the keys in schema order, which is messageObject's order
 * plus `balance` last, so the bytes are the same as JSON.stringify gave (the unit test compares
 * them). Spreading the object into a copy and stringifying it generically took ~3 % of the api's
 * CPU under the accept bench.
 */
const serializeAccepted = fastJson({
  ...Accepted,
  // Metadata is left to JSON.stringify: the Record's patternProperties ('^(.*)$') do not match a
  // key with a line break, and fast-json-stringify would drop that key silently.
  properties: { ...Accepted.properties, metadata: {} },
} as object as Parameters<typeof fastJson>[0])

/** The 202 body of POST /v1/messages: the message plus the balance left after its charge. */
export function renderAccepted(m: NewMessage, balanceAfterMicros: number | null) {
  // messageObject's result is a fresh object: the balance is added to it, not spread into a copy.
  const body = serializeAccepted(
    Object.assign(messageObject({ ...m, updatedAt: m.createdAt }), {
      balance:
        balanceAfterMicros === null
          ? { amount: BALANCE_TOKEN, currency: m.currency }
          : money(balanceAfterMicros, m.currency),
    }),
  )
  return { statusCode: 202, body }
}
