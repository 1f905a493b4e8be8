import { BusPayloadError } from './errors.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** JSON text of data; rejects what JSON cannot carry instead of storing `undefined`. */
export function toJson(data: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(data)
  } catch (err) {
    throw new BusPayloadError('data is not JSON-serialisable', { cause: err })
  }
  if (text === undefined) throw new BusPayloadError(`data is not JSON-serialisable (${typeof data})`)
  return text
}

export const encodePayload = (data: unknown): Uint8Array => encoder.encode(toJson(data))

/** Parses a stored payload; a payload that is not UTF-8 JSON can never be handled. */
export function decodePayload<T>(bytes: Uint8Array | string): T {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : decoder.decode(bytes)) as T
  } catch (err) {
    throw new BusPayloadError('stored payload is not UTF-8 JSON', { cause: err })
  }
}
