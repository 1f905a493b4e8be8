import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { type RateCache, type RateTable, readRates, replaceRates } from '../../../billing/rates.ts'
import type { Db } from '../../../db/db.ts'
import { formatAmount, InvalidAmountError, MAX_PRICE_MICROS, parseAmount } from '../../../domain/money.ts'
import { invalidRequest } from '../../errors.ts'
import type { Authenticator } from '../../plugins/auth.ts'
import { ErrorBody, Nullable } from '../../schemas.ts'

const Price = Type.String({ maxLength: 40, description: 'Price per segment, decimal string' })
const RatesBody = Type.Object(
  {
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    default: Type.Optional(Nullable(Price)),
    /** Absent: no per-country rates, only the default. */
    countries: Type.Optional(
      Type.Record(Type.String(), Price, {
        maxProperties: 300,
        propertyNames: { pattern: '^[A-Z]{2}$' },
      }),
    ),
  },
  { additionalProperties: false },
)

function price(s: string, param: string): number {
  let micros: number
  try {
    micros = parseAmount(s)
  } catch (err) {
    if (err instanceof InvalidAmountError) throw invalidRequest(err.message, param)
    throw err
  }
  if (micros < 0) throw invalidRequest(`'${param}' must not be negative`, param)
  if (micros > MAX_PRICE_MICROS)
    throw invalidRequest(`'${param}' must be at most ${formatAmount(MAX_PRICE_MICROS)} per segment`, param)
  return micros
}

const render = (t: RateTable) => ({
  currency: t.currency,
  default: t.defaultMicros === null ? null : formatAmount(t.defaultMicros),
  countries: Object.fromEntries(Object.entries(t.countries).map(([c, p]) => [c, formatAmount(p)])),
})

export const adminRateRoutes: FastifyPluginAsyncTypebox<{
  db: Db
  auth: Authenticator
  rates: RateCache
  currency: string
}> = async (app, { db, auth, rates, currency }) => {
  app.addHook('onRequest', auth.admin)

  app.put(
    '/v1/admin/rates',
    {
      schema: {
        summary: 'Replace the price-per-segment table (per destination country, with a default)',
        tags: ['admin'],
        body: RatesBody,
        response: { 200: RatesBody, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const b = request.body
      if (b.currency !== currency) {
        throw invalidRequest(`This gateway bills in ${currency}; rates must be in ${currency}`, 'currency')
      }
      const table: RateTable = {
        currency,
        defaultMicros: b.default == null ? null : price(b.default, 'default'),
        countries: Object.fromEntries(
          Object.entries(b.countries ?? {}).map(([c, p]) => [c, price(p, `countries.${c}`)]),
        ),
      }
      await replaceRates(db, table)
      rates.invalidate()
      return render(await readRates(db, currency))
    },
  )

  app.get(
    '/v1/admin/rates',
    {
      schema: { summary: 'The rate table', tags: ['admin'], response: { 200: RatesBody, '4xx': ErrorBody } },
    },
    async () => render(await readRates(db, currency)),
  )
}
