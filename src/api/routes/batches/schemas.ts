import { Type } from '@sinclair/typebox'
import { MAX_BATCH_RECIPIENTS } from '../../../domain/batch.ts'
import { PRIORITIES } from '../../../domain/message.ts'
import { Money, Nullable, SendBody } from '../../schemas.ts'

const Params = Type.Record(Type.String(), Type.String({ maxLength: 1600 }), {
  maxProperties: 50,
  propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,39}$' },
  description: 'Values for the `${name}` placeholders of `body`',
})

export const BatchRecipient = Type.Object(
  {
    to: Type.String({ maxLength: 256, description: 'Recipient, E.164 (lenient input accepted)' }),
    params: Type.Optional(Params),
    client_reference: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128 }))),
  },
  { additionalProperties: false },
)

const shared = SendBody.properties

export const BatchBody = Type.Object(
  {
    from: shared.from,
    body: Type.String({
      minLength: 1,
      description: '1..1600 characters, with `${name}` placeholders filled from each recipient’s params',
    }),
    recipients: Type.Array(BatchRecipient, { minItems: 1, maxItems: MAX_BATCH_RECIPIENTS }),
    priority: Type.Optional(
      Type.Union(
        PRIORITIES.map((p) => Type.Literal(p)),
        { default: 'bulk' },
      ),
    ),
    client_reference: shared.client_reference,
    status_callback_url: shared.status_callback_url,
    validity_period: shared.validity_period,
    send_at: shared.send_at,
    metadata: shared.metadata,
    country: shared.country,
  },
  { additionalProperties: false },
)

export const Rejected = Type.Object({
  index: Type.Integer(),
  to: Type.String(),
  error: Type.Object({ code: Type.String(), message: Type.String() }),
})

export const BatchObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('batch'),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('completed')]),
  total: Type.Integer(),
  accepted: Type.Integer(),
  rejected: Type.Array(Rejected),
  price: Money,
  from: Type.String(),
  body: Type.String(),
  priority: Type.String(),
  client_reference: Nullable(Type.String()),
  send_at: Nullable(Type.String()),
  created_at: Type.String(),
  completed_at: Nullable(Type.String()),
})

export const BatchWithCounts = Type.Composite([
  BatchObject,
  Type.Object({ counts: Type.Record(Type.String(), Type.Integer()) }),
])

export const CanceledBatch = Type.Composite([BatchWithCounts, Type.Object({ canceled: Type.Integer() })])
