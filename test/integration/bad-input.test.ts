// A table of bad requests: each must get the documented 4xx status, error code and param, the API.md
// error shape and an X-Request-Id, and none of them may change money, messages, outbox, idempotency keys
// or the rate table.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { v7 as uuidv7 } from 'uuid'
import {
  ADMIN_TOKEN,
  adminHeaders,
  createCustomer,
  moneySnapshot,
  STANDARD_RATES,
  sendBody,
  setRates,
  startApp,
  type TestApp,
  type TestCustomer,
} from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
type Auth = 'customer' | 'admin' | 'none' | { authorization: string }

interface Case {
  name: string
  method?: Method
  /** `{customer}` is replaced by the funded customer's id. */
  url: string
  /** Default: admin for /v1/admin/*, customer otherwise. */
  auth?: Auth
  /** An object is sent as JSON; a string is sent verbatim (raw JSON text or another format). */
  payload?: unknown
  contentType?: string
  headers?: Record<string, string>
  status: number
  code: string
  /** undefined: not checked; null: must be absent; a string: must equal. */
  param?: string | null
  /** Per-case setup and restore (for cases that need another state, e.g. a rate table). */
  setup?: (ctx: Ctx) => Promise<void>
  teardown?: (ctx: Ctx) => Promise<void>
}

interface Ctx {
  t: TestApp
  customer: TestCustomer
}

const MSG = '/v1/messages'
const PREVIEW = '/v1/messages/preview'
const CUSTOMERS = '/v1/admin/customers'
const CREDITS = '/v1/admin/customers/{customer}/credits'
const RATES = '/v1/admin/rates'

/** POST /v1/messages with a valid body patched by `over`. */
const send = (over: Record<string, unknown>) => ({
  method: 'POST' as const,
  url: MSG,
  payload: sendBody(over),
})
/** POST /v1/messages with raw JSON text. */
const sendRaw = (payload: string) => ({ method: 'POST' as const, url: MSG, payload })

const metadata = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))
const hoursFromNow = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString()

const CASES: Case[] = [
  // --- malformed JSON and transport-level problems -------------------------------------------------
  {
    name: 'truncated JSON',
    ...sendRaw('{"to":"+14155550123","from":"ACME","bo'),
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'trailing comma',
    ...sendRaw('{"to":"+14155550123","from":"ACME","body":"hi",}'),
    status: 400,
    code: 'invalid_json',
  },
  { name: 'bare unquoted word', ...sendRaw('hello'), status: 400, code: 'invalid_json' },
  {
    name: 'NaN literal',
    ...sendRaw('{"to":"+14155550123","from":"ACME","body":NaN}'),
    status: 400,
    code: 'invalid_json',
  },
  { name: 'single-quoted JSON', ...sendRaw("{'to':'+14155550123'}"), status: 400, code: 'invalid_json' },
  { name: 'empty body with JSON content type', ...sendRaw(''), status: 400, code: 'invalid_json' },
  {
    name: '__proto__ key (prototype poisoning)',
    ...sendRaw('{"to":"+14155550123","from":"ACME","body":"hi","__proto__":{"admin":true}}'),
    status: 400,
    code: 'invalid_json',
  },
  { name: 'JSON string instead of object', ...sendRaw('"hello"'), status: 400, code: 'invalid_request' },
  { name: 'JSON array instead of object', ...sendRaw('[]'), status: 400, code: 'invalid_request' },
  { name: 'JSON null instead of object', ...sendRaw('null'), status: 400, code: 'invalid_request' },
  {
    name: 'form-encoded content type',
    method: 'POST',
    url: MSG,
    payload: 'to=%2B14155550123&from=ACME&body=hi',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'text/plain content type with a JSON body',
    method: 'POST',
    url: MSG,
    payload: JSON.stringify(sendBody()),
    contentType: 'text/plain',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'XML content type',
    method: 'POST',
    url: MSG,
    payload: '<message><to>+14155550123</to></message>',
    contentType: 'application/xml',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'body larger than 1 MiB',
    ...send({ body: 'a'.repeat(1_048_577) }),
    status: 413,
    code: 'payload_too_large',
  },

  // --- schema: wrong types, missing and unknown fields -------------------------------------------
  { name: 'to as number', ...send({ to: 14155550123 }), status: 400, code: 'invalid_request', param: 'to' },
  { name: 'body as array', ...send({ body: ['hi'] }), status: 400, code: 'invalid_request', param: 'body' },
  { name: 'body as null', ...send({ body: null }), status: 400, code: 'invalid_request', param: 'body' },
  {
    name: 'priority "urgent"',
    ...send({ priority: 'urgent' }),
    status: 400,
    code: 'invalid_request',
    param: 'priority',
  },
  {
    name: 'validity_period as string "3600"',
    ...send({ validity_period: '3600' }),
    status: 400,
    code: 'invalid_request',
    param: 'validity_period',
  },
  {
    name: 'validity_period 10 (below minimum)',
    ...send({ validity_period: 10 }),
    status: 400,
    code: 'invalid_request',
    param: 'validity_period',
  },
  {
    name: 'validity_period 1.5 (not an integer)',
    ...send({ validity_period: 1.5 }),
    status: 400,
    code: 'invalid_request',
    param: 'validity_period',
  },
  {
    name: 'metadata with a number value',
    ...send({ metadata: { user_id: 42 } }),
    status: 400,
    code: 'invalid_request',
    param: 'metadata.user_id',
  },
  {
    name: 'metadata with a nested object',
    ...send({ metadata: { user: { id: 'u_42' } } }),
    status: 400,
    code: 'invalid_request',
    param: 'metadata.user',
  },
  {
    name: 'metadata with 21 keys',
    ...send({ metadata: metadata(21) }),
    status: 400,
    code: 'invalid_request',
    param: 'metadata',
  },
  {
    name: 'metadata key of 41 chars',
    ...send({ metadata: { [`k${'e'.repeat(40)}`]: 'v' } }),
    status: 400,
    code: 'invalid_request',
    param: `metadata.k${'e'.repeat(40)}`,
  },
  {
    name: 'metadata as array',
    ...send({ metadata: ['a'] }),
    status: 400,
    code: 'invalid_request',
    param: 'metadata',
  },
  { name: 'missing to', ...send({ to: undefined }), status: 400, code: 'invalid_request', param: 'to' },
  { name: 'missing from', ...send({ from: undefined }), status: 400, code: 'invalid_request', param: 'from' },
  { name: 'missing body', ...send({ body: undefined }), status: 400, code: 'invalid_request', param: 'body' },
  {
    name: 'unknown field',
    ...send({ customer_id: '00000000-0000-0000-0000-000000000000' }),
    status: 400,
    code: 'invalid_request',
    param: 'customer_id',
  },
  {
    name: 'country hint "USA"',
    ...send({ to: '4155550123', country: 'USA' }),
    status: 400,
    code: 'invalid_request',
    param: 'country',
  },

  // --- body text ----------------------------------------------------------------------------------
  { name: 'empty body string', ...send({ body: '' }), status: 400, code: 'invalid_request', param: 'body' },
  {
    name: '1601-char body',
    ...send({ body: 'a'.repeat(1601) }),
    status: 422,
    code: 'body_too_long',
    param: 'body',
  },
  {
    name: '2000-char body',
    ...send({ body: 'b'.repeat(2000) }),
    status: 422,
    code: 'body_too_long',
    param: 'body',
  },
  {
    name: '1601 emoji body',
    ...send({ body: '\u{1F600}'.repeat(1601) }),
    status: 422,
    code: 'body_too_long',
    param: 'body',
  },
  {
    name: '1601-char UCS-2 body',
    ...send({ body: 'я'.repeat(1601) }),
    status: 422,
    code: 'body_too_long',
    param: 'body',
  },
  { name: 'NUL in body', ...send({ body: '\u0000' }), status: 400, code: 'invalid_request', param: 'body' },
  {
    name: 'lone surrogate in body',
    ...sendRaw('{"to":"+14155550123","from":"ACME","body":"hi \\ud800 there"}'),
    status: 400,
    code: 'invalid_request',
    param: 'body',
  },
  {
    name: 'lone low surrogate in body',
    ...sendRaw('{"to":"+14155550123","from":"ACME","body":"\\udc00"}'),
    status: 400,
    code: 'invalid_request',
    param: 'body',
  },
  {
    name: 'lone surrogate in from',
    ...sendRaw('{"to":"+14155550123","from":"AC\\ud800","body":"hi"}'),
    status: 400,
    code: 'invalid_request',
    param: 'from',
  },
  {
    name: 'lone surrogate in client_reference',
    ...sendRaw('{"to":"+14155550123","from":"ACME","body":"hi","client_reference":"\\ud800"}'),
    status: 400,
    code: 'invalid_request',
    param: 'client_reference',
  },
  {
    name: 'NUL in metadata value',
    ...send({ metadata: { k: 'a\u0000b' } }),
    status: 400,
    code: 'invalid_request',
    param: 'metadata.k',
  },

  // --- recipients ---------------------------------------------------------------------------------
  { name: 'to "+1234"', ...send({ to: '+1234' }), status: 422, code: 'invalid_phone_number', param: 'to' },
  { name: 'to "hello"', ...send({ to: 'hello' }), status: 422, code: 'invalid_phone_number', param: 'to' },
  {
    name: 'to "+999999999999"',
    ...send({ to: '+999999999999' }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  {
    name: 'national number without country hint',
    ...send({ to: '4155550123' }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  {
    name: 'to of 40 characters',
    ...send({ to: `+1415555012${'3'.repeat(29)}` }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  { name: 'to empty string', ...send({ to: '' }), status: 422, code: 'invalid_phone_number', param: 'to' },
  {
    name: 'to as tel: URI',
    ...send({ to: 'tel:+14155550123' }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  {
    name: 'UK landline',
    ...send({ to: '+442071838750' }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  {
    name: 'US toll-free',
    ...send({ to: '+18005550199' }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  {
    name: 'SQL in to',
    ...send({ to: "'; DROP TABLE messages; --" }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },

  // --- senders ------------------------------------------------------------------------------------
  {
    name: '12-char alphanumeric sender',
    ...send({ from: 'ACMECORPORAT' }),
    status: 422,
    code: 'invalid_sender',
    param: 'from',
  },
  { name: 'empty sender', ...send({ from: '' }), status: 422, code: 'invalid_sender', param: 'from' },
  { name: 'sender "AC!ME"', ...send({ from: 'AC!ME' }), status: 422, code: 'invalid_sender', param: 'from' },
  {
    name: 'sender of only spaces',
    ...send({ from: '    ' }),
    status: 422,
    code: 'invalid_sender',
    param: 'from',
  },
  { name: 'sender "+1234"', ...send({ from: '+1234' }), status: 422, code: 'invalid_sender', param: 'from' },
  {
    name: 'sender "ACME\'--"',
    ...send({ from: "ACME'--" }),
    status: 422,
    code: 'invalid_sender',
    param: 'from',
  },

  // --- scheduling, callbacks, references, idempotency keys ---------------------------------------
  {
    name: 'send_at in the past',
    ...send({ send_at: hoursFromNow(-1) }),
    status: 400,
    code: 'invalid_request',
    param: 'send_at',
  },
  {
    name: 'send_at more than 7 days ahead',
    ...send({ send_at: hoursFromNow(7 * 24 + 1) }),
    status: 400,
    code: 'invalid_request',
    param: 'send_at',
  },
  {
    name: 'send_at not a date',
    ...send({ send_at: 'tomorrow at noon' }),
    status: 400,
    code: 'invalid_request',
    param: 'send_at',
  },
  {
    name: 'status_callback_url not a URL',
    ...send({ status_callback_url: 'not a url' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url ftp://',
    ...send({ status_callback_url: 'ftp://acme.example/hooks' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url javascript:',
    ...send({ status_callback_url: 'javascript:alert(1)' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url http:// without insecure webhooks (never deliverable: the webhook address policy)',
    ...send({ status_callback_url: 'http://acme.example/hooks' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url private address (never deliverable: the webhook address policy)',
    ...send({ status_callback_url: 'https://10.0.0.1/hooks' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url metadata address (never deliverable: the webhook address policy)',
    ...send({ status_callback_url: 'https://169.254.169.254/latest/meta-data/' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url loopback name (never deliverable: the webhook address policy)',
    ...send({ status_callback_url: 'https://localhost/hooks' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url with credentials (never deliverable: the webhook address policy)',
    ...send({ status_callback_url: 'https://user:pw@acme.example/hooks' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'status_callback_url IPv4-mapped loopback (never deliverable: the webhook address policy)',
    ...send({ status_callback_url: 'https://[::ffff:127.0.0.1]/hooks' }),
    status: 400,
    code: 'invalid_request',
    param: 'status_callback_url',
  },
  {
    name: 'client_reference of 129 chars',
    ...send({ client_reference: 'r'.repeat(129) }),
    status: 400,
    code: 'invalid_request',
    param: 'client_reference',
  },
  {
    name: 'Idempotency-Key of 256 chars',
    ...send({}),
    headers: { 'idempotency-key': 'k'.repeat(256) },
    status: 400,
    code: 'invalid_request',
    param: 'Idempotency-Key',
  },
  {
    name: 'Idempotency-Key with a space',
    ...send({}),
    headers: { 'idempotency-key': 'two words' },
    status: 400,
    code: 'invalid_request',
    param: 'Idempotency-Key',
  },
  {
    name: 'valid Idempotency-Key with an invalid number stores no key',
    ...send({ to: '+1234' }),
    headers: { 'idempotency-key': 'bad-input-idem-1' },
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },
  {
    name: 'destination country without a rate',
    ...send({ to: '+4915123456789' }),
    status: 422,
    code: 'destination_not_supported',
    param: 'to',
    setup: async ({ t }) => setRates(t.app, { currency: 'USD', countries: STANDARD_RATES.countries }),
    teardown: async ({ t }) => setRates(t.app),
  },
  {
    name: 'preview with an invalid number',
    method: 'POST',
    url: PREVIEW,
    payload: sendBody({ to: 'hello' }),
    status: 422,
    code: 'invalid_phone_number',
    param: 'to',
  },

  // --- authentication and authorization ----------------------------------------------------------
  { name: 'no Authorization', ...send({}), auth: 'none', status: 401, code: 'unauthenticated' },
  {
    name: 'Bearer nope',
    ...send({}),
    auth: { authorization: 'Bearer nope' },
    status: 401,
    code: 'unauthenticated',
  },
  {
    name: 'Basic auth scheme',
    ...send({}),
    auth: { authorization: 'Basic dXNlcjpwYXNz' },
    status: 401,
    code: 'unauthenticated',
  },
  { name: 'admin token on /v1/messages', ...send({}), auth: 'admin', status: 403, code: 'forbidden' },
  {
    name: 'customer key on /v1/admin/customers',
    method: 'POST',
    url: CUSTOMERS,
    payload: { name: 'mallory' },
    auth: 'customer',
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'customer key crediting itself',
    method: 'POST',
    url: CREDITS,
    payload: { amount: '1000.00' },
    auth: 'customer',
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'customer key on PUT /v1/admin/rates',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'USD', default: '0.0000', countries: {} },
    auth: 'customer',
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'no Authorization on admin',
    method: 'GET',
    url: CUSTOMERS,
    auth: 'none',
    status: 401,
    code: 'unauthenticated',
  },

  // --- admin: credits -----------------------------------------------------------------------------
  ...(
    [
      ['negative amount', '-5.00'],
      ['amount "abc"', 'abc'],
      ['amount "1e3"', '1e3'],
      ['amount with 7 decimals', '0.0000001'],
      ['amount as number 0', 0],
      ['amount "0"', '0'],
      ['amount 5 (number)', 5],
      ['amount " 5.00" (space)', ' 5.00'],
      ['amount beyond range', '99999999999.00'],
    ] as const
  ).map(
    ([name, amount]): Case => ({
      name: `credit: ${name}`,
      method: 'POST',
      url: CREDITS,
      payload: { amount, reference: 'bad' },
      status: 400,
      code: 'invalid_request',
      param: 'amount',
    }),
  ),
  {
    name: 'credit: missing amount',
    method: 'POST',
    url: CREDITS,
    payload: { reference: 'x' },
    status: 400,
    code: 'invalid_request',
    param: 'amount',
  },
  {
    name: 'credit: unknown field',
    method: 'POST',
    url: CREDITS,
    payload: { amount: '5.00', currency: 'EUR' },
    status: 400,
    code: 'invalid_request',
    param: 'currency',
  },
  {
    name: 'credit: NUL in reference',
    method: 'POST',
    url: CREDITS,
    payload: { amount: '5.00', reference: 'a\u0000' },
    status: 400,
    code: 'invalid_request',
    param: 'reference',
  },
  {
    name: 'credit: non-existent customer',
    method: 'POST',
    url: `/v1/admin/customers/${uuidv7()}/credits`,
    payload: { amount: '5.00' },
    status: 404,
    code: 'not_found',
  },
  {
    name: 'credit: customer id not a uuid',
    method: 'POST',
    url: '/v1/admin/customers/not-a-uuid/credits',
    payload: { amount: '5.00' },
    status: 404,
    code: 'not_found',
  },

  // --- admin: rates -------------------------------------------------------------------------------
  {
    name: 'rates: lowercase country',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'USD', default: '0.0100', countries: { us: '0.0079' } },
    status: 400,
    code: 'invalid_request',
    param: 'countries.us',
  },
  {
    name: 'rates: negative price',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'USD', default: '0.0100', countries: { US: '-0.0079' } },
    status: 400,
    code: 'invalid_request',
    param: 'countries.US',
  },
  {
    name: 'rates: currency EUR',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'EUR', default: '0.0100', countries: { US: '0.0079' } },
    status: 400,
    code: 'invalid_request',
    param: 'currency',
  },
  {
    name: 'rates: default "abc"',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'USD', default: 'abc', countries: {} },
    status: 400,
    code: 'invalid_request',
    param: 'default',
  },
  {
    name: 'rates: price as number',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'USD', default: '0.0100', countries: { US: 0.0079 } },
    status: 400,
    code: 'invalid_request',
    param: 'countries.US',
  },
  {
    // Absent `countries` means "only the default" (issue 8); null is not a rate table.
    name: 'rates: countries null',
    method: 'PUT',
    url: RATES,
    payload: { currency: 'USD', default: '0.0100', countries: null },
    status: 400,
    code: 'invalid_request',
    param: 'countries',
  },

  // --- admin: customers ---------------------------------------------------------------------------
  {
    name: 'customer: empty name',
    method: 'POST',
    url: CUSTOMERS,
    payload: { name: '' },
    status: 400,
    code: 'invalid_request',
    param: 'name',
  },
  {
    name: 'customer: rate_limit_mps 0',
    method: 'POST',
    url: CUSTOMERS,
    payload: { name: 'zero', rate_limit_mps: 0 },
    status: 400,
    code: 'invalid_request',
    param: 'rate_limit_mps',
  },
  {
    name: 'customer: unknown field',
    method: 'POST',
    url: CUSTOMERS,
    payload: { name: 'acme2', balance: '1000000.00' },
    status: 400,
    code: 'invalid_request',
    param: 'balance',
  },
  {
    name: 'customer: name with NUL',
    method: 'POST',
    url: CUSTOMERS,
    payload: { name: 'ac\u0000me' },
    status: 400,
    code: 'invalid_request',
    param: 'name',
  },
  {
    name: 'customer: invalid IP in allowed_ips (with an Idempotency-Key)',
    method: 'POST',
    url: CUSTOMERS,
    payload: { name: 'ipco', allowed_ips: ['999.1.1.1'] },
    headers: { 'idempotency-key': 'bad-input-idem-2' },
    status: 400,
    code: 'invalid_request',
    param: 'allowed_ips',
  },
  {
    name: 'customer: id not a uuid',
    method: 'GET',
    url: '/v1/admin/customers/not-a-uuid',
    status: 404,
    code: 'not_found',
  },
  {
    name: 'customers: limit=0',
    method: 'GET',
    url: `${CUSTOMERS}?limit=0`,
    status: 400,
    code: 'invalid_request',
    param: 'limit',
  },

  // --- reads --------------------------------------------------------------------------------------
  { name: 'GET message not-a-uuid', method: 'GET', url: `${MSG}/not-a-uuid`, status: 404, code: 'not_found' },
  {
    name: 'GET message random uuidv7',
    method: 'GET',
    url: `${MSG}/${uuidv7()}`,
    status: 404,
    code: 'not_found',
  },
  {
    name: 'list limit=0',
    method: 'GET',
    url: `${MSG}?limit=0`,
    status: 400,
    code: 'invalid_request',
    param: 'limit',
  },
  {
    name: 'list limit=1001',
    method: 'GET',
    url: `${MSG}?limit=1001`,
    status: 400,
    code: 'invalid_request',
    param: 'limit',
  },
  {
    name: 'list limit=ten',
    method: 'GET',
    url: `${MSG}?limit=ten`,
    status: 400,
    code: 'invalid_request',
    param: 'limit',
  },
  {
    name: 'list cursor=garbage!!',
    method: 'GET',
    url: `${MSG}?cursor=garbage!!`,
    status: 400,
    code: 'invalid_request',
    param: 'cursor',
  },
  {
    name: 'list status=bogus',
    method: 'GET',
    url: `${MSG}?status=bogus`,
    status: 400,
    code: 'invalid_request',
    param: 'status',
  },
  {
    name: 'list created_after=yesterday',
    method: 'GET',
    url: `${MSG}?created_after=yesterday`,
    status: 400,
    code: 'invalid_request',
    param: 'created_after',
  },
  {
    name: 'list unknown query parameter',
    method: 'GET',
    url: `${MSG}?customer_id=x`,
    status: 400,
    code: 'invalid_request',
    param: 'customer_id',
  },
  { name: 'unknown route', method: 'GET', url: '/v1/nope', status: 404, code: 'not_found' },
  {
    name: 'unknown route (POST)',
    method: 'POST',
    url: '/v2/messages',
    payload: sendBody(),
    status: 404,
    code: 'not_found',
  },
]

const ERROR_FIELDS = new Set(['type', 'code', 'message', 'param', 'request_id'])

/** Sends raw HTTP over TCP and resolves with the status code of the first response line. */
function rawStatus(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let data = ''
    const done = () => {
      socket.destroy()
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data)
      if (m) resolve(Number(m[1]))
      else reject(new Error(`no HTTP status line in ${JSON.stringify(data.slice(0, 200))}`))
    }
    socket.setEncoding('latin1')
    socket.setTimeout(10_000, () => done())
    socket.on('data', (chunk: string) => {
      data += chunk
      if (data.includes('\r\n')) done()
    })
    // The server may close while we are still writing the oversize header: what it answered counts.
    socket.on('error', () => done())
    socket.on('close', () => done())
    socket.write(request)
  })
}

describe('bad input is rejected with the documented error and changes nothing', () => {
  let db: FreshDatabase
  let ctx: Ctx
  let before0: { money: unknown; rates: unknown }

  const rates = async () => {
    const res = await ctx.t.app.inject({ method: 'GET', url: RATES, headers: adminHeaders })
    assert.equal(res.statusCode, 200, res.body)
    return res.json()
  }
  const state = async () => ({ money: await moneySnapshot(ctx.t.db), rates: await rates() })

  before(async () => {
    db = await freshDatabase()
    const t = await startApp(db.url)
    await setRates(t.app)
    const customer = await createCustomer(t.app, { name: 'acme', credit: '100.00' })
    ctx = { t, customer }
    before0 = await state()
  })

  after(async () => {
    await ctx?.t.close()
    await db?.drop()
  })

  it('has a table of at least 45 cases', () => {
    assert.ok(CASES.length >= 45, `only ${CASES.length} cases`)
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length, 'case names are unique')
  })

  CASES.forEach((c, i) => {
    it(`${c.status} ${c.code}: ${c.name}`, async () => {
      const { t, customer } = ctx
      const url = c.url.replace('{customer}', customer.id)
      const auth = c.auth ?? (url.startsWith('/v1/admin/') ? 'admin' : 'customer')
      const requestId = `bad-input-${i}`
      const headers: Record<string, string> = { 'x-request-id': requestId, ...c.headers }
      if (auth === 'customer') Object.assign(headers, customer.auth)
      else if (auth === 'admin') headers.authorization = `Bearer ${ADMIN_TOKEN}`
      else if (auth !== 'none') Object.assign(headers, auth)
      let payload: string | undefined
      if (c.payload !== undefined) {
        payload = typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload)
        headers['content-type'] = c.contentType ?? 'application/json'
      }
      await c.setup?.(ctx)
      try {
        const res = await t.app.inject({
          method: c.method ?? 'GET',
          url,
          headers,
          ...(payload !== undefined ? { payload } : {}),
        })
        const where = `${c.method ?? 'GET'} ${url} -> ${res.statusCode} ${res.body.slice(0, 300)}`
        assert.equal(res.statusCode, c.status, where)
        assert.equal(res.headers['x-request-id'], requestId, `X-Request-Id echoed: ${where}`)
        assert.match(String(res.headers['content-type']), /^application\/json/, where)
        const body = res.json() as { error: Record<string, unknown> }
        assert.deepEqual(Object.keys(body), ['error'], where)
        const e = body.error
        for (const k of Object.keys(e))
          assert.ok(ERROR_FIELDS.has(k), `unexpected error field ${k}: ${where}`)
        assert.equal(e.code, c.code, where)
        assert.equal(typeof e.type, 'string', where)
        assert.match(e.type as string, /^[a-z_]+$/, where)
        assert.equal(typeof e.message, 'string', where)
        assert.ok((e.message as string).length > 0, where)
        assert.equal(e.request_id, requestId, where)
        if (c.param === null) assert.equal(e.param, undefined, where)
        else if (c.param !== undefined) assert.equal(e.param, c.param, where)
        if ('param' in e) assert.equal(typeof e.param, 'string', where)
      } finally {
        await c.teardown?.(ctx)
      }
    })
  })

  it('431 for oversize request headers (answered by the HTTP parser, not Fastify)', async () => {
    const { t, customer } = ctx
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = t.app.server.address() as AddressInfo
    const body = JSON.stringify(sendBody())
    const status = await rawStatus(
      port,
      `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${customer.auth.authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Padding: ${'p'.repeat(64 * 1024)}\r\n\r\n${body}`,
    )
    assert.ok(status >= 400 && status < 500, `got ${status}`)
    assert.equal(status, 431)
  })

  it('nothing changed: balances, ledger, messages, outbox, idempotency keys and rates', async () => {
    const after0 = await state()
    assert.deepEqual(after0, before0)
  })
})
