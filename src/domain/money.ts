// Money is held as integer micro-units in a plain number: exact while it stays a safe integer, and cheap
// on the hot path. Every operation below guards that invariant instead of silently rounding.

export const MICROS_PER_UNIT = 1_000_000

// Far below Number.MAX_SAFE_INTEGER, so sums of a few thousand amounts still cannot lose precision.
const MAX_ABS_MICROS = 1e15

/**
 * The largest balance a customer may hold (1,000,000,000 units). Credits that would pass it are
 * refused; the 9x headroom to 2^53 leaves room for refunds of charges taken below it.
 */
export const MAX_BALANCE_MICROS = 1e15

/** The largest price per segment (1,000 units): a longest message's price stays a small, exact number. */
export const MAX_PRICE_MICROS = 1e9

const AMOUNT_RE = /^(-?)(\d+)(?:\.(\d{1,6}))?$/

export class InvalidAmountError extends Error {
  readonly code = 'invalid_amount'

  constructor(message: string) {
    super(message)
    this.name = 'InvalidAmountError'
  }
}

export function parseAmount(s: string): number {
  if (typeof s !== 'string') throw new InvalidAmountError('amount must be a decimal string')
  const m = AMOUNT_RE.exec(s)
  if (m === null) {
    throw new InvalidAmountError(
      `invalid amount ${JSON.stringify(s.slice(0, 40))}: expected a plain decimal with at most 6 decimals`,
    )
  }
  const intDigits = (m[2] ?? '').replace(/^0+/, '')
  // More than 10 integer digits is already beyond the limit; bailing early keeps Number() exact below.
  if (intDigits.length > 10) throw outOfRange(s)
  const frac = (m[3] ?? '').padEnd(6, '0')
  const abs = Number(intDigits || '0') * MICROS_PER_UNIT + Number(frac)
  if (abs > MAX_ABS_MICROS) throw outOfRange(s)
  // `|| 0` avoids returning -0 for inputs like "-0.000".
  return m[1] === '-' ? -abs || 0 : abs
}

function outOfRange(s: string): InvalidAmountError {
  return new InvalidAmountError(
    `amount ${JSON.stringify(s.slice(0, 40))} out of range (max ±${MAX_ABS_MICROS / MICROS_PER_UNIT})`,
  )
}

export function formatAmount(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not a safe integer micro amount: ${micros}`)
  const abs = Math.abs(micros)
  const units = Math.floor(abs / MICROS_PER_UNIT)
  // Four decimals is the customer-facing convention; extra digits appear only when they carry value.
  let frac = String(abs % MICROS_PER_UNIT).padStart(6, '0')
  if (frac.endsWith('00')) frac = frac.slice(0, 4)
  else if (frac.endsWith('0')) frac = frac.slice(0, 5)
  return `${micros < 0 ? '-' : ''}${units}.${frac}`
}

export function multiplyMicros(micros: number, n: number): number {
  if (!Number.isSafeInteger(micros) || !Number.isSafeInteger(n)) {
    throw new RangeError(`multiplyMicros needs safe integers, got ${micros} * ${n}`)
  }
  // Both operands are integers, so a safe-integer float product is guaranteed to be the exact product.
  const result = micros * n
  if (!Number.isSafeInteger(result)) throw new RangeError(`micro amount overflow: ${micros} * ${n}`)
  return result || 0
}

const INT_RE = /^-?\d+$/

export function toMicros(v: string | number | bigint): number {
  let n: number
  if (typeof v === 'number') n = v
  else if (typeof v === 'bigint') n = Number(v)
  else if (typeof v === 'string' && INT_RE.test(v)) n = Number(v)
  else throw new RangeError(`not an integer micro amount: ${String(v)}`)
  // Any integer beyond 2^53-1 converts to a value >= 2^53, which isSafeInteger rejects, so this catches
  // precision loss from both strings and bigints.
  if (!Number.isSafeInteger(n)) throw new RangeError(`micro amount is not a safe integer: ${String(v)}`)
  return n || 0
}
