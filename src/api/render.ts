import fastJson from 'fast-json-stringify'
import { BALANCE_TOKEN } from '../billing/accept-fast.ts'
import type { NewMessage } from '../domain/message.ts'
import { messageObject, money } from '../messages/message-object.ts'
import { Accepted } from './schemas.ts'

/**
 * The 202 body, serialized by a function fast-json-stringify compiles once from the route's own
 * response schema (`Accepted`). It writes the keys in schema order, which is messageObject's order
 * plus `balance` last, so the bytes are the same as JSON.stringify gave (the unit test compares
 * them). What it saves is small (see docs/performance.md, "Accept path"): building the object
 * (three Date#toISOString) costs more than writing it.
 */
type Schema = { type?: unknown; anyOf?: Schema[] }

/**
 * The schema as the serializer gets it. A nullable scalar (TypeBox's `anyOf: [T, null]`) becomes
 * `type: [T, 'null']`: for an anyOf, fast-json-stringify validates the value against each branch
 * at run time, which made it slower than JSON.stringify. Metadata is left to JSON.stringify: the
 * Record's patternProperties ('^(.*)$') do not match a key with a line break, and the serializer
 * would drop that key silently.
 */
function serializerSchema(schema: { properties: object }): object {
  const properties: Record<string, Schema> = {}
  for (const [name, s] of Object.entries(schema.properties) as [string, Schema][]) {
    const [t, n] = s.anyOf ?? []
    properties[name] =
      s.anyOf?.length === 2 && n?.type === 'null' && typeof t?.type === 'string' && t.type !== 'object'
        ? { type: [t.type, 'null'] }
        : s
  }
  return { ...schema, properties: { ...properties, metadata: {} } }
}

const serializeAccepted = fastJson(serializerSchema(Accepted) as Parameters<typeof fastJson>[0])

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
