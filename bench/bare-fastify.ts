// The ceiling: the same Fastify version with nothing behind the route (no auth, no validation,
// no database), answering like the gateway would. Whatever the gateway reaches is measured
// against this. Run as a child process: `node --import tsx bench/bare-fastify.ts` with PORT/HOST.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 0)
const host = process.env.HOST ?? '127.0.0.1'

const app = Fastify({ logger: false })

app.get('/health/ready', async () => ({ status: 'ready' }))

app.post('/v1/messages', async (request, reply) => {
  // Parse boundary: Fastify has already JSON-parsed the body; echo fields so the work is not skipped.
  const body = (request.body ?? {}) as Record<string, unknown>
  const str = (v: unknown) => (typeof v === 'string' ? v : '')
  const now = new Date()
  reply.code(202)
  // The shape of the gateway's 202 (a message object plus the balance), so response size matches.
  return {
    id: randomUUID(),
    object: 'message',
    status: 'queued',
    is_final: false,
    to: str(body['to']),
    from: str(body['from']),
    body: str(body['body']),
    encoding: 'GSM-7',
    segments: 1,
    price: { amount: '0.0079', currency: 'USD' },
    priority: body['priority'] === 'otp' ? 'otp' : 'normal',
    client_reference: null,
    status_callback_url: null,
    metadata: null,
    batch_id: null,
    country: 'US',
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    send_at: null,
    expires_at: new Date(now.getTime() + 172_800_000).toISOString(),
    balance: { amount: '999999.9921', currency: 'USD' },
  }
})

const close = () => {
  void app.close().finally(() => process.exit(0))
}
process.once('SIGTERM', close)
process.once('SIGINT', close)
// The parent keeps an IPC channel open; when it goes away (even on SIGKILL) so do we.
process.once('disconnect', close)

await app.listen({ port, host })
