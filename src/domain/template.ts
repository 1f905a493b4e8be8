// `${param}` templating of batch bodies: each recipient's params are substituted into the one
// body before it is encoded and priced (so GSM-7 or UCS-2 is chosen per recipient).

/** A placeholder: `${` + a name of letters, digits and `_` (not starting with a digit) + `}`. */
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]{0,39})\}/g

/** The distinct parameter names a body uses, in first-use order. */
export function templateParams(body: string): string[] {
  return [...new Set(Array.from(body.matchAll(PLACEHOLDER), (m) => m[1] as string))]
}

export type Rendered = { ok: true; body: string } | { ok: false; missing: string }

/**
 * Substitutes every placeholder; the first one without a value in `params` fails the render.
 * Text that is not a well-formed placeholder (`$name`, `${ bad }`) is kept as written, and a
 * substituted value is never scanned again.
 */
export function renderTemplate(body: string, params: Readonly<Record<string, string>> | undefined): Rendered {
  let missing: string | undefined
  const out = body.replace(PLACEHOLDER, (whole, name: string) => {
    const v = params && Object.hasOwn(params, name) ? params[name] : undefined
    if (v === undefined) {
      missing ??= name
      return whole
    }
    return v
  })
  return missing === undefined ? { ok: true, body: out } : { ok: false, missing }
}
