import { type TSchema, Type } from '@sinclair/typebox'
import { PRIORITIES } from '../domain/message.ts'

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

export const Money = Type.Object({
  amount: Type.String({ examples: ['0.0079'] }),
  currency: Type.String({ examples: ['USD'] }),
})

export const ErrorBody = Type.Object({
  error: Type.Object({
    type: Type.String(),
    code: Type.String(),
    message: Type.String(),
    param: Type.Optional(Type.String()),
    request_id: Type.String(),
  }),
})

export const SendBody = Type.Object(
  {
    to: Type.String({ maxLength: 256, description: 'Recipient, E.164 (lenient input accepted)' }),
    from: Type.String({
      maxLength: 256,
      description: 'E.164 number, short code or alphanumeric sender id (1-11)',
    }),
    body: Type.String({ minLength: 1, description: '1..1600 characters' }),
    priority: Type.Optional(
      Type.Union(
        PRIORITIES.map((p) => Type.Literal(p)),
        { default: 'normal' },
      ),
    ),
    client_reference: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128 }))),
    status_callback_url: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
    validity_period: Type.Optional(Nullable(Type.Integer({ minimum: 60, maximum: 259_200 }))),
    send_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
    metadata: Type.Optional(
      Nullable(
        Type.Record(Type.String(), Type.String({ maxLength: 500 }), {
          maxProperties: 20,
          propertyNames: { minLength: 1, maxLength: 40 },
        }),
      ),
    ),
    country: Type.Optional(
      Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Hint for national-format `to`' }),
    ),
  },
  { additionalProperties: false },
)

export const MessageObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('message'),
  status: Type.String(),
  is_final: Type.Boolean(),
  to: Type.String(),
  from: Type.String(),
  body: Nullable(Type.String()),
  encoding: Type.String(),
  segments: Type.Integer(),
  price: Money,
  priority: Type.String(),
  client_reference: Nullable(Type.String()),
  status_callback_url: Nullable(Type.String()),
  metadata: Nullable(Type.Record(Type.String(), Type.String())),
  batch_id: Nullable(Type.String()),
  country: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
  send_at: Nullable(Type.String()),
  expires_at: Type.String(),
})

export const Accepted = Type.Composite([MessageObject, Type.Object({ balance: Money })])

export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
}

export const listOf = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), has_more: Type.Boolean(), next_cursor: Nullable(Type.String()) })
