// Turns the JSON schemas of /openapi.json into fast-check arbitraries that mostly follow the schema
// (so requests get past validation and reach the handlers), reach its boundaries, and now and
// then break it with a hostile value. Fields the schema cannot describe well (phone numbers,
// amounts, timestamps, ids) draw from named pools as well.
import fc from 'fast-check'

export interface JsonSchema {
  type?: string
  enum?: unknown[]
  anyOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  propertyNames?: JsonSchema
  items?: JsonSchema
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  maxItems?: number
  maxProperties?: number
  pattern?: string
  format?: string
}

/** Values that break any schema or poke at a known weak spot (NUL, surrogates, huge, empty…). */
export const HOSTILE: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -0,
  2 ** 53 + 1,
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '😀'.repeat(3),
  'x'.repeat(5000),
  '9'.repeat(400),
  'NaN',
  '-0',
  '1e21',
  "' OR 1=1 --",
  '../../etc/passwd',
  '__proto__',
  '%00',
  [],
  [1, 'a'],
  {},
  { __proto__: { admin: true } },
  { constructor: { prototype: {} } },
]

/** Named values: `ok` ones a valid request may carry, `bad` ones it may not. */
export type Pools = Record<string, { ok: readonly unknown[]; bad: readonly unknown[] }>

/**
 * `hostile: false` builds requests meant to pass validation (schema-shaped values and pools, no
 * stray or missing fields) so the handlers and the database are reached; `true` mixes in
 * HOSTILE values and schema violations everywhere.
 */
export interface Mode {
  hostile: boolean
}

const hostile = fc.constantFrom(...HOSTILE)

/**
 * An arbitrary for `schema`. `name` is the property (or parameter) name: when `pools` has it, the
 * pool's values are mixed in. `depth` bounds recursion for nested objects.
 */
export function schemaArbitrary(
  schema: JsonSchema,
  pools: Pools,
  mode: Mode,
  name = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  const pool = pools[name]
  const shaped = shapedArbitrary(schema, { pools, mode, name, depth })
  // A valid request takes a named field from its `ok` pool only (a random string is no phone number).
  if (!mode.hostile) return pool && pool.ok.length > 0 ? fc.constantFrom(...pool.ok) : shaped
  const options: fc.WeightedArbitrary<unknown>[] = [
    { weight: 2, arbitrary: shaped },
    { weight: 1, arbitrary: hostile },
  ]
  for (const values of [pool?.ok ?? [], pool?.bad ?? []])
    if (values.length > 0) options.push({ weight: 3, arbitrary: fc.constantFrom(...values) })
  return fc.oneof(...options)
}

/** Where in the request a value sits: its pools, the mode, its name and nesting depth. */
interface Place {
  pools: Pools
  mode: Mode
  name: string
  depth: number
}

function shapedArbitrary(schema: JsonSchema, at: Place): fc.Arbitrary<unknown> {
  const { pools, mode, name, depth } = at
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => shapedArbitrary(s, at)))
  if (schema.enum) return fc.constantFrom(...schema.enum)
  switch (schema.type) {
    case 'string':
      return stringArbitrary(schema, mode)
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -1_000_000
      const max = schema.maximum ?? 1_000_000
      const edges = mode.hostile ? [min, max, min - 1, max + 1] : [min, max]
      return fc.oneof(
        fc.integer({ min, max }),
        fc.constantFrom(...edges),
        ...(schema.type === 'number' ? [fc.double({ noNaN: true })] : []),
      )
    }
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array': {
      // Items draw from the pool `<name>[]` (e.g. `allowed_ips[]`).
      const item = schema.items ? schemaArbitrary(schema.items, pools, mode, `${name}[]`, depth + 1) : hostile
      return fc.array(item, { maxLength: Math.min(schema.maxItems ?? 4, 4) })
    }
    case 'object':
      return objectArbitrary(schema, at)
    default:
      return hostile
  }
}

function stringArbitrary(schema: JsonSchema, mode: Mode): fc.Arbitrary<unknown> {
  const maxLength = schema.maxLength ?? 64
  const minLength = schema.minLength ?? 0
  if (schema.pattern) {
    const re = new RegExp(schema.pattern)
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc.stringMatching(re).filter((s) => s.length <= maxLength && s.length >= minLength),
      },
      { weight: mode.hostile ? 1 : 0, arbitrary: fc.string({ maxLength: 8 }) },
    )
  }
  const length = { minLength: Math.max(minLength, mode.hostile ? 0 : 1), maxLength: Math.min(maxLength, 40) }
  return fc.oneof(
    fc.string(length),
    fc.string({ ...length, unit: mode.hostile ? 'binary' : 'grapheme-ascii' }),
    fc.constant('a'.repeat(maxLength)),
    fc.constant(mode.hostile ? 'a'.repeat(maxLength + 1) : 'a'.repeat(Math.max(minLength, 1))),
  )
}

function objectArbitrary(schema: JsonSchema, at: Place): fc.Arbitrary<unknown> {
  const { pools, mode, name, depth } = at
  if (depth > 3) return fc.constant({})
  const props = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  const fields = Object.fromEntries(
    Object.entries(props).map(([k, s]) => [k, schemaArbitrary(s, pools, mode, k, depth + 1)]),
  )
  const named =
    Object.keys(fields).length > 0
      ? fc.record(fields, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) })
      : fc.constant({})
  const extra =
    typeof schema.additionalProperties === 'object'
      ? fc.dictionary(
          schema.propertyNames?.pattern
            ? fc.stringMatching(new RegExp(schema.propertyNames.pattern))
            : fc.string(),
          // Values of a free-form object draw from the pool `<name>.*` (e.g. `countries.*`).
          schemaArbitrary(schema.additionalProperties, pools, mode, `${name}.*`, depth + 1),
          { maxKeys: Math.min(schema.maxProperties ?? 4, 4) },
        )
      : fc.constant({})
  if (!mode.hostile) return fc.tuple(named, extra).map(([n, e]) => ({ ...(e as object), ...(n as object) }))
  // Now and then: a field the schema does not know, or a required one missing.
  const mutation = fc.oneof(
    { weight: 8, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
    {
      weight: 1,
      arbitrary: fc.string({ minLength: 1, maxLength: 12 }).map<Mutation>((k) => ({ kind: 'add', k })),
    },
    { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'drop' }) },
  )
  return fc.tuple(named, extra, mutation).map(([n, e, m]) => {
    const out: Record<string, unknown> = { ...(e as object), ...(n as object) }
    if (m.kind === 'add') out[m.k] = 'unexpected'
    if (m.kind === 'drop') delete out[[...required][0] ?? '']
    return out
  })
}

type Mutation = { kind: 'none' } | { kind: 'add'; k: string } | { kind: 'drop' }
