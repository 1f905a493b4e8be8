// Requests generated from the routes /openapi.json lists: a route, its path params, query string,
// JSON body and headers (auth, Idempotency-Key, X-Request-Id, Content-Type), each valid, at a
// boundary or hostile.
import fc from 'fast-check'
import { type JsonSchema, type Mode, type Pools, schemaArbitrary } from './schema-arbitrary.ts'

export interface Route {
  method: string
  /** OpenAPI path, `{id}` style. */
  path: string
  params: { in: 'path' | 'query'; name: string; schema: JsonSchema }[]
  body?: JsonSchema
}

export interface FuzzRequest {
  route: string
  method: string
  url: string
  headers: Record<string, string>
  payload?: string
}

interface OpenApiOperation {
  parameters?: { in: string; name: string; schema: JsonSchema }[]
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
}

/** Every operation of an OpenAPI document. */
export function routesOf(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Route[] {
  const out: Route[] = []
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      out.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? [])
          .filter((p) => p.in === 'path' || p.in === 'query')
          .map((p) => ({ in: p.in as 'path' | 'query', name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
      })
    }
  }
  return out
}

export interface Credentials {
  admin: string
  /** Customer keys: the first is an ordinary funded customer, the others odd ones (suspended…). */
  customers: string[]
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/xml',
]
const RAW_BODIES = ['', '{', 'null', '[]', '"x"', '{"a":1,}', 'not json', '{"__proto__":{"x":1}}']

function authArbitrary(route: Route, creds: Credentials, rightWeight = 12): fc.Arbitrary<string | undefined> {
  const admin = route.path.startsWith('/v1/admin/')
  const [main = '', ...odd] = creds.customers
  const right = admin ? creds.admin : main
  const wrong = admin ? main : creds.admin
  return fc.oneof(
    { weight: rightWeight, arbitrary: fc.constant(`Bearer ${right}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${wrong}`) },
    { weight: 6, arbitrary: fc.constantFrom(...odd.map((k) => `Bearer ${k}`), `Bearer ${right}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer sk_unknown_0000000000000000000000',
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        `Bearer ${'k'.repeat(600)}`,
        `bearer  ${right}  `,
      ),
    },
  )
}

const optionalHeader = (pool: Pools[string] | undefined, mode: Mode) => {
  const values = [...(pool?.ok ?? []), ...(mode.hostile ? (pool?.bad ?? []) : [])] as string[]
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: values.length > 0 ? 2 : 0, arbitrary: fc.constantFrom(...values, 'x') },
  )
}

function queryString(values: Record<string, unknown>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue
    if (Array.isArray(v))
      for (const item of v) q.append(k, typeof item === 'string' ? item : JSON.stringify(item))
    else q.append(k, typeof v === 'string' ? v : JSON.stringify(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** An arbitrary request to `route`: half meant to be valid, half hostile. */
export function requestArbitrary(route: Route, pools: Pools, creds: Credentials): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    modeArbitrary(route, pools, creds, { hostile: false }),
    modeArbitrary(route, pools, creds, { hostile: true }),
  )
}

function modeArbitrary(
  route: Route,
  pools: Pools,
  creds: Credentials,
  mode: Mode,
): fc.Arbitrary<FuzzRequest> {
  const pathParams = Object.fromEntries(
    route.params
      .filter((p) => p.in === 'path')
      .map((p) => [p.name, schemaArbitrary(p.schema, pools, mode, p.name)]),
  )
  const queryParams = Object.fromEntries(
    route.params
      .filter((p) => p.in === 'query')
      .map((p) => [
        p.name,
        fc.option(schemaArbitrary(p.schema, pools, mode, p.name), { nil: undefined, freq: 2 }),
      ]),
  )
  // Hostile requests sometimes carry query parameters the route does not define.
  const extraQuery = mode.hostile
    ? fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 })), {
        nil: undefined,
        freq: 6,
      })
    : fc.constant(undefined)
  const raw = mode.hostile ? 1 : 0
  const json = route.body
    ? fc.oneof(
        { weight: 10, arbitrary: schemaArbitrary(route.body, pools, mode).map((b) => JSON.stringify(b)) },
        { weight: raw, arbitrary: fc.constantFrom(...RAW_BODIES) },
      )
    : fc.oneof(
        { weight: 10, arbitrary: fc.constant(undefined) },
        { weight: raw, arbitrary: fc.constantFrom(...RAW_BODIES) },
      )
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant(CONTENT_TYPES[0] as string) },
    { weight: raw, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  )
  return fc
    .record({
      path: fc.record(pathParams),
      query: fc.record(queryParams),
      extraQuery,
      payload: json,
      contentType,
      authorization: mode.hostile ? authArbitrary(route, creds) : authArbitrary(route, creds, 40),
      idempotencyKey: optionalHeader(pools['Idempotency-Key'], mode),
      requestId: optionalHeader(pools['X-Request-Id'], mode),
    })
    .map((r) => {
      const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        const v = r.path[name]
        // A lone surrogate cannot be percent-encoded as UTF-8; on the wire it becomes U+FFFD.
        return encodeURIComponent(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString())
      })
      const headers: Record<string, string> = {}
      if (r.authorization !== undefined) headers.authorization = r.authorization
      if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey
      if (r.requestId !== undefined) headers['x-request-id'] = r.requestId
      if (r.payload !== undefined) headers['content-type'] = r.contentType
      return {
        route: `${route.method} ${route.path}`,
        method: route.method,
        url: path + queryString({ ...r.extraQuery, ...r.query }),
        headers,
        ...(r.payload !== undefined ? { payload: r.payload } : {}),
      }
    })
}
