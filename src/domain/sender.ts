import { parsePhoneNumberFromString } from 'libphonenumber-js/max'

export type Sender = { kind: 'number' | 'alphanumeric' | 'shortcode'; value: string }

const E164_RE = /^\+[1-9]\d{1,14}$/
const SHORTCODE_RE = /^\d{3,8}$/
// Max 11 chars is the GSM limit for alphanumeric originators (TP-OA holds 11 septets of text).
const ALPHANUMERIC_RE = /^[A-Za-z0-9\-_.&](?:[A-Za-z0-9 \-_.&]{0,9}[A-Za-z0-9\-_.&])?$/
const HAS_LETTER_RE = /[A-Za-z]/

export function parseSender(input: string): Sender | null {
  if (typeof input !== 'string') return null
  if (input.startsWith('+')) {
    if (!E164_RE.test(input)) return null
    // Any number type may originate a message (landlines with SMS enablement, toll-free senders).
    const phone = parsePhoneNumberFromString(input)
    return phone?.isValid() ? { kind: 'number', value: phone.number } : null
  }
  if (SHORTCODE_RE.test(input)) return { kind: 'shortcode', value: input }
  // A letter is required so carriers don't mistake the sender for a (malformed) phone number.
  if (ALPHANUMERIC_RE.test(input) && HAS_LETTER_RE.test(input)) return { kind: 'alphanumeric', value: input }
  return null
}
