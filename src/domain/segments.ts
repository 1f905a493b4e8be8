// SMS segment accounting. This runs for every submitted message, so it works on char codes with a
// precomputed table rather than regexes, and only falls back to a per-char packing loop when a message
// is multi-part and contains characters of width 2 (GSM escapes, UTF-16 surrogate pairs).

export type Encoding = 'GSM-7' | 'UCS-2'

export interface BodyInfo {
  encoding: Encoding
  segments: number
  units: number
  characters: number
}

const GSM_SINGLE = 160
const GSM_MULTI = 153
const UCS2_SINGLE = 70
const UCS2_MULTI = 67

// GSM 03.38 default alphabet minus ESC (0x1B), which only exists to introduce extension characters.
export const GSM_BASIC_CHARS =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
// Sent as ESC + char, so each costs two septets.
export const GSM_EXTENSION_CHARS = '\f^{}\\[~]|€'

// Septet width per UTF-16 code unit: 0 = not encodable in GSM-7. '€' (U+20AC) is the highest entry.
const GSM_WIDTH = new Uint8Array(0x20ad)
for (const ch of GSM_BASIC_CHARS) GSM_WIDTH[ch.charCodeAt(0)] = 1
for (const ch of GSM_EXTENSION_CHARS) GSM_WIDTH[ch.charCodeAt(0)] = 2

function gsmWidth(code: number): number {
  return code < GSM_WIDTH.length ? GSM_WIDTH[code]! : 0
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}

/**
 * Greedily fills parts of `limit` units without ever splitting a width-2 item (GSM escape pair or
 * surrogate pair). Greedy is optimal for sequential packing, so this is the exact part count. When
 * `cuts` is given, the string index where each new part starts is pushed onto it.
 */
function pack(body: string, gsm: boolean, limit: number, cuts?: number[]): number {
  const len = body.length
  let parts = 1
  let used = 0
  let i = 0
  while (i < len) {
    const code = body.charCodeAt(i)
    let width: number
    let step = 1
    if (gsm) {
      width = gsmWidth(code)
    } else {
      if (isHigh(code) && i + 1 < len && isLow(body.charCodeAt(i + 1))) step = 2
      width = step
    }
    if (used + width > limit) {
      parts++
      used = 0
      cuts?.push(i)
    }
    used += width
    i += step
  }
  return parts
}

function gsmSegments(body: string, septets: number): number {
  if (septets === 0) return 0
  if (septets <= GSM_SINGLE) return 1
  // Without escape pairs every char is one septet and nothing can straddle a boundary.
  if (septets === body.length) return Math.ceil(septets / GSM_MULTI)
  return pack(body, true, GSM_MULTI)
}

function ucs2Info(body: string): BodyInfo {
  const len = body.length
  const characters = countCharacters(body)
  let segments: number
  if (len <= UCS2_SINGLE) segments = len === 0 ? 0 : 1
  else if (characters === len) segments = Math.ceil(len / UCS2_MULTI)
  else segments = pack(body, false, UCS2_MULTI)
  return { encoding: 'UCS-2', segments, units: len, characters }
}

export function analyzeBody(body: string): BodyInfo {
  const len = body.length
  let septets = 0
  for (let i = 0; i < len; i++) {
    const width = gsmWidth(body.charCodeAt(i))
    if (width === 0) return ucs2Info(body)
    septets += width
  }
  return { encoding: 'GSM-7', segments: gsmSegments(body, septets), units: septets, characters: len }
}

export function splitBody(body: string): { encoding: Encoding; parts: string[] } {
  const { encoding, segments } = analyzeBody(body)
  if (segments <= 1) return { encoding, parts: segments === 0 ? [] : [body] }
  const gsm = encoding === 'GSM-7'
  const cuts: number[] = []
  pack(body, gsm, gsm ? GSM_MULTI : UCS2_MULTI, cuts)
  const parts: string[] = []
  let start = 0
  for (const cut of cuts) {
    parts.push(body.slice(start, cut))
    start = cut
  }
  parts.push(body.slice(start))
  return { encoding, parts }
}

export function hasLoneSurrogate(s: string): boolean {
  const len = s.length
  for (let i = 0; i < len; i++) {
    const code = s.charCodeAt(i)
    if (isHigh(code)) {
      if (i + 1 < len && isLow(s.charCodeAt(i + 1))) i++
      else return true
    } else if (isLow(code)) {
      return true
    }
  }
  return false
}

export function countCharacters(s: string): number {
  const len = s.length
  let pairs = 0
  for (let i = 0; i < len; i++) {
    if (isHigh(s.charCodeAt(i)) && i + 1 < len && isLow(s.charCodeAt(i + 1))) {
      pairs++
      i++
    }
  }
  return len - pairs
}
