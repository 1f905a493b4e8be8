// A stand-in for the gateway that speaks just the contract the accept benchmark uses (admin
// setup, POST /v1/messages with API-key auth), kept in memory. It exists to test the harness
// itself: `npm run bench -- accept --server-script bench/mock-gateway.ts`. Its numbers mean nothing.
import { randomBytes, randomUUID } from 'node:crypto'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'

const port = Number(process.env.PORT ?? 0)
const host = process.env.HOST ?? '127.0.0.1'
const adminToken = process.env.SMSGW_ADMIN_TOKEN ?? ''

interface Customer {
  id: string
  name: string
  credits: number
}
const customers = new Map<string, Customer>()
const byKey = new Map<string, Customer>()
let rates: unknown = null

const app = Fastify({ logger: false })

const bearer = (request: FastifyRequest) => request.headers.authorization?.replace(/^Bearer /, '') ?? ''
const deny = (reply: FastifyReply) => reply.code(401).send({ error: { code: 'unauthenticated' } })

app.get('/health/ready', async () => ({ status: 'ready' }))

app.put('/v1/admin/rates', async (request, reply) => {
  if (bearer(request) !== adminToken) return deny(reply)
  rates = request.body
  return rates
})

app.post('/v1/admin/customers', async (request, reply) => {
  if (bearer(request) !== adminToken) return deny(reply)
  const body = request.body as { name?: unknown }
  const customer = { id: randomUUID(), name: String(body.name), credits: 0 }
  const apiKey = `sk_${randomBytes(16).toString('hex')}`
  customers.set(customer.id, customer)
  byKey.set(apiKey, customer)
  return reply.code(201).send({ ...customer, api_key: apiKey })
})

app.post<{ Params: { id: string } }>('/v1/admin/customers/:id/credits', async (request, reply) => {
  if (bearer(request) !== adminToken) return deny(reply)
  const customer = customers.get(request.params.id)
  if (!customer) return reply.code(404).send({ error: { code: 'not_found' } })
  customer.credits += Number((request.body as { amount?: unknown }).amount)
  return reply.code(201).send({ balance: customer.credits.toFixed(2) })
})

app.post('/v1/messages', async (request, reply) => {
  const customer = byKey.get(bearer(request))
  if (!customer) return deny(reply)
  const body = request.body as { to?: unknown; body?: unknown }
  if (typeof body.to !== 'string' || typeof body.body !== 'string' || rates === null) {
    return reply.code(400).send({ error: { code: 'invalid_request' } })
  }
  customer.credits -= 0.0079
  return reply.code(202).send({ id: randomUUID(), object: 'message', status: 'queued', to: body.to })
})

const close = () => {
  void app.close().finally(() => process.exit(0))
}
process.once('SIGTERM', close)
process.once('SIGINT', close)

await app.listen({ port, host })
