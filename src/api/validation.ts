import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import { parseTimestamp } from '../domain/timestamps.ts'

// ajv-formats is CommonJS; under ESM its function arrives as the default export's `default`.
type AddFormats = (ajv: Ajv) => Ajv
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats

/**
 * Bodies are validated strictly: no type coercion and no silently dropped unknown fields, so
 * `"segments":"1"` or a misspelt field is a 400, not a guess. Query strings and path params
 * arrive as text, so they are coerced.
 */
function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    coerceTypes: coerce,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  })
  addFormats(ajv)
  // Every `date-time` in every schema is checked by the one rule the handlers parse with: a leap
  // second or the year 0000 passes ajv-formats but not Date/PostgreSQL, and was a 500 or ignored.
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => parseTimestamp(s) !== null })
  return ajv
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = makeAjv(false)
  const coercing = makeAjv(true)
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object)
}
