import {
  type CountryCode,
  isSupportedCountry,
  type NumberType,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max'
import { parsePhoneNumberFromString as parseMobile } from 'libphonenumber-js/mobile'
import { createLru } from './lru.ts'

export type PhoneResult =
  | { ok: true; e164: string; country: string }
  | { ok: false; reason: 'invalid' | 'not_mobile' }

const MAX_INPUT_LENGTH = 32

// libphonenumber happily extracts numbers from "tel:" URIs, trailing text or extensions; a recipient
// must be nothing but a number in common human notation.
const RECIPIENT_RE = /^\+?[0-9 ().-]+$/

// Types that cannot receive SMS. Everything else, including an unknown type on a valid number, is
// accepted: carriers reject undeliverable numbers anyway, and blocking real mobiles is worse.
const NOT_MOBILE: ReadonlySet<NumberType> = new Set<NumberType>([
  'FIXED_LINE',
  'PREMIUM_RATE',
  'TOLL_FREE',
  'SHARED_COST',
  'UAN',
  'VOICEMAIL',
  'PAGER',
])

const INVALID: PhoneResult = { ok: false, reason: 'invalid' }
const NOT_MOBILE_RESULT: PhoneResult = { ok: false, reason: 'not_mobile' }

function toCountry(hint: string | undefined): CountryCode | undefined {
  if (hint === undefined) return undefined
  const upper = hint.toUpperCase()
  return isSupportedCountry(upper) ? upper : undefined
}

/**
 * Valid recipients already parsed, by their spelling (national ones with their country first).
 * parseRecipient is a pure function of its input and libphonenumber-js parsing took ~4.5 % of the
 * api's CPU under the accept bench; senders message the same numbers again (OTP, notifications).
 * Only valid results are kept, so a flood of junk numbers cannot push real ones out; 20,000
 * entries are a few MB at most.
 */
const parsed = createLru<string, PhoneResult>(20_000)

export function parseRecipient(input: string, countryHint?: string): PhoneResult {
  if (typeof input !== 'string' || input.length > MAX_INPUT_LENGTH) return INVALID
  const s = input.trim()
  if (!RECIPIENT_RE.test(s)) return INVALID
  let country: CountryCode | undefined
  if (!s.startsWith('+')) {
    // A national number is ambiguous without knowing which country it is national to.
    country = toCountry(countryHint)
    if (country === undefined) return INVALID
  }
  const key = country === undefined ? s : `${country}:${s}`
  const hit = parsed.get(key)
  if (hit !== undefined) return hit
  const result = parseUncached(s, country)
  if (result.ok) parsed.set(key, Object.freeze(result))
  return result
}

function parseUncached(s: string, country: CountryCode | undefined): PhoneResult {
  // Most recipients are mobile: the mobile-only metadata validates them in one pattern, where the
  // full metadata tries every number type. Anything else takes the full path to be classified.
  const mobile = parseMobile(s, country)
  if (mobile?.country !== undefined && mobile.isValid()) {
    return { ok: true, e164: mobile.number, country: mobile.country }
  }
  const phone = parsePhoneNumberFromString(s, country)
  // Non-geographic numbers (+800, +881 …) have no country, which we need for pricing and routing.
  if (phone === undefined || phone.country === undefined || !phone.isValid()) return INVALID
  if (NOT_MOBILE.has(phone.getType())) return NOT_MOBILE_RESULT
  return { ok: true, e164: phone.number, country: phone.country }
}

export function maskPhone(e164: string): string {
  const plus = e164.startsWith('+') ? '+' : ''
  const digits = plus ? e164.slice(1) : e164
  // Too short to keep 6 digits and still hide anything, so hide it all.
  if (digits.length <= 6) return plus + '*'.repeat(digits.length)
  return plus + digits.slice(0, 4) + '*'.repeat(digits.length - 6) + digits.slice(-2)
}
