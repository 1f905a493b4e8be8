// Event ids (`evt_` + 26 Crockford base32 characters, ULID-like) are derived from the row that
// records the event, never stored: 48 bits of milliseconds (so a lookup by id reads one daily
// partition), a kind byte, and the row's key. A message.queued event is the message itself (its
// UUIDv7 is the id); a status change is a message_events row; anything else a customer_events row.

import { uuidV7Time } from '../domain/ids.ts'

export type EventRef =
  | { kind: 'queued'; messageId: string; at: number }
  | { kind: 'status'; rowId: string; at: number }
  | { kind: 'customer'; rowId: string; at: number }

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
/** PostgreSQL bigint's largest value. */
const MAX_BIGINT = 2n ** 63n - 1n
const STATUS_KIND = 0x01
const CUSTOMER_KIND = 0x02
const EVENT_ID = /^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$/

function encode(bytes: Uint8Array): string {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  let out = ''
  for (let i = 0; i < 26; i++) {
    out = ALPHABET[Number(n & 31n)] + out
    n >>= 5n
  }
  return `evt_${out}`
}

function decode(id: string): Uint8Array | undefined {
  if (typeof id !== 'string' || !EVENT_ID.test(id)) return undefined
  let n = 0n
  for (const ch of id.slice(4)) n = (n << 5n) | BigInt(ALPHABET.indexOf(ch))
  const bytes = new Uint8Array(16)
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(n & 255n)
    n >>= 8n
  }
  return bytes
}

function withTime(at: number, kind: number, rowId: string): string {
  const bytes = new Uint8Array(16)
  const view = new DataView(bytes.buffer)
  view.setUint16(0, Math.floor(at / 2 ** 32))
  view.setUint32(2, at % 2 ** 32)
  bytes[6] = kind
  view.setBigUint64(8, BigInt(rowId))
  return encode(bytes)
}

/** The id of a message's status change (message_events row id, its created_at in ms). */
export const statusEventId = (rowId: string, at: number) => withTime(at, STATUS_KIND, rowId)
/** The id of an event recorded in customer_events. */
export const customerEventId = (rowId: string, at: number) => withTime(at, CUSTOMER_KIND, rowId)

/** The id of a message's message.queued event: the message id itself, re-encoded. */
export function queuedEventId(messageId: string): string {
  const hex = messageId.replaceAll('-', '')
  return encode(Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16)))
}

/** What an event id points at, or undefined when it is not one of ours. */
export function parseEventId(id: string): EventRef | undefined {
  const bytes = decode(id)
  if (!bytes) return undefined
  const view = new DataView(bytes.buffer)
  const at = view.getUint16(0) * 2 ** 32 + view.getUint32(2)
  const kind = bytes[6] as number
  if (kind >> 4 === 7) {
    const hex = Buffer.from(bytes).toString('hex')
    const messageId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    return uuidV7Time(messageId) === null ? undefined : { kind: 'queued', messageId, at }
  }
  if (bytes[7] !== 0) return undefined
  const row = view.getBigUint64(8)
  // Our rows have bigint (signed 64-bit) ids; a larger one is no id of ours (and PostgreSQL
  // would refuse it: a 500, not a 404).
  if (row > MAX_BIGINT) return undefined
  const rowId = row.toString()
  if (kind === STATUS_KIND) return { kind: 'status', rowId, at }
  if (kind === CUSTOMER_KIND) return { kind: 'customer', rowId, at }
  return undefined
}
