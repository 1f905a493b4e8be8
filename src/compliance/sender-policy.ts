// The operator's policy for alphanumeric sender ids, by destination country: some networks (US,
// CA…) deliver only from numbers. Default: alphanumeric senders are allowed everywhere.

/** Parses SMSGW_NUMERIC_SENDER_COUNTRIES ("US,CA"): ISO 3166 alpha-2 codes, upper-cased. */
export function numericOnlyCountries(spec: string | undefined): ReadonlySet<string> {
  return new Set(
    (spec ?? '')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s.length > 0),
  )
}
