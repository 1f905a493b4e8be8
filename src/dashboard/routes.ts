// The operator dashboard at /dashboard: a static single-page app (Preact + htm, uPlot; served from
// this package and node_modules, no CDN) and the few admin reads the v1 admin API lacks, plus a
// live metrics stream (SSE). The page keeps the admin token in sessionStorage and sends it as
// `Authorization: Bearer` — never in a URL or a cookie, so there is nothing for CSRF to ride on.
// ADR 0015 explains the choices.

import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import { invalidRequest, notFound } from '../api/errors.ts'
import type { Db } from '../db/db.ts'
import { isUuid } from '../domain/ids.ts'
import { parseRecipient } from '../domain/phone.ts'
import { STATUSES } from '../domain/status.ts'
import { messageObject } from '../messages/message-object.ts'
import { findMessage, listMessages, messageEvents } from '../messages/messages-repository.ts'
import { createMetricsSampler, type Sample } from './metrics-sampler.ts'
import { customerKeys, messageOwner, searchCustomers } from './queries.ts'

const here = dirname(fileURLToPath(import.meta.url))
/** The page's own files (copied next to the compiled code by scripts/build.mjs). */
export const PUBLIC_DIR = join(here, 'public')

const require = createRequire(import.meta.url)
/** A package's directory (its `exports` may hide package.json: resolve its main entry and walk up). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name))
  while (!dir.endsWith(`node_modules/${name}`) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}
/** The third-party browser files the page loads, as /dashboard/vendor/<name>. */
const VENDOR: Record<string, string> = {
  'preact-htm.js': join(packageDir('htm'), 'preact', 'standalone.module.js'),
  'uplot.js': join(packageDir('uplot'), 'dist', 'uPlot.esm.js'),
  'uplot.css': join(packageDir('uplot'), 'dist', 'uPlot.min.css'),
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export interface DashboardOptions {
  db: Db
  /** The admin check of the v1 admin routes (Authorization: Bearer <SMSGW_ADMIN_TOKEN>). */
  admin: (request: FastifyRequest) => Promise<void>
  registry: Registry
  onError?: (err: unknown) => void
}

export const dashboardRoutes: FastifyPluginAsyncTypebox<DashboardOptions> = async (app, opts) => {
  const { db } = opts
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('x-frame-options', 'DENY')
    return payload
  })

  // The page and its files: public, like /docs; the data behind them is not.
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/dashboard/assets/',
    index: false,
    cacheControl: true,
    maxAge: 0,
  })
  const sendIndex = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.header('cache-control', 'no-store').sendFile('index.html', PUBLIC_DIR)
  app.get('/dashboard', { schema: { hide: true } }, sendIndex)
  app.get('/dashboard/', { schema: { hide: true } }, sendIndex)
  app.get(
    '/dashboard/vendor/:file',
    { schema: { hide: true, params: Type.Object({ file: Type.String({ maxLength: 40 }) }) } },
    async (request, reply) => {
      const path = VENDOR[request.params.file]
      if (!path) throw notFound('file')
      return reply.header('cache-control', 'public, max-age=3600').sendFile(basename(path), dirname(path))
    },
  )

  await app.register(async (plain) => {
    const api = plain.withTypeProvider<TypeBoxTypeProvider>()
    api.addHook('onRequest', opts.admin)
    const sampler = createMetricsSampler(opts.registry, { onError: opts.onError })
    const streams = new Set<() => void>()
    api.addHook('preClose', async () => {
      for (const end of streams) end()
      sampler.stop()
    })

    api.get('/dashboard/api/session', { schema: { hide: true } }, async () => ({ ok: true }))

    api.get('/dashboard/api/metrics', { schema: { hide: true } }, async () => sampler.latest())

    // Server-sent events: `history` (the last 5 minutes) once, then one `sample` a second.
    api.get('/dashboard/api/metrics/stream', { schema: { hide: true } }, async (request, reply) => {
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
        'x-request-id': request.id,
      })
      const send = (event: string, data: Sample | Sample[]) =>
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
      const { history, unsubscribe } = sampler.subscribe((s) => send('sample', s))
      send('history', history)
      const end = () => {
        unsubscribe()
        streams.delete(end)
        if (!res.writableEnded) res.end()
      }
      streams.add(end)
      request.raw.once('close', end)
      res.once('error', end)
    })

    const MessageQuery = Type.Object(
      {
        id: Type.Optional(Type.String({ maxLength: 64 })),
        customer_id: Type.Optional(Type.String({ maxLength: 64 })),
        to: Type.Optional(Type.String({ maxLength: 64 })),
        status: Type.Optional(Type.String({ maxLength: 20 })),
        client_reference: Type.Optional(Type.String({ maxLength: 128 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
      },
      { additionalProperties: false },
    )
    // A message by id (any customer), or a customer's messages (newest first) by recipient,
    // status or client reference: both are index lookups.
    api.get(
      '/dashboard/api/messages',
      { schema: { hide: true, querystring: MessageQuery } },
      async (request) => {
        const q = request.query
        if (q.id) {
          const id = q.id.trim().toLowerCase()
          if (!isUuid(id)) throw invalidRequest('id is not a message id', 'id')
          const owner = await messageOwner(db, id)
          const m = owner ? await findMessage(db, owner, id) : undefined
          return { data: m ? [{ ...messageObject(m), customer_id: m.customerId }] : [] }
        }
        const customerId = q.customer_id?.trim().toLowerCase()
        if (!customerId || !isUuid(customerId))
          throw invalidRequest('give a message id, or a customer_id to search its messages', 'customer_id')
        if (q.status && !(STATUSES as string[]).includes(q.status))
          throw invalidRequest(`status must be one of ${STATUSES.join(', ')}`, 'status')
        let to: string | undefined
        if (q.to?.trim()) {
          const parsed = parseRecipient(q.to.trim())
          if (!parsed.ok) throw invalidRequest('to is not a phone number', 'to')
          to = parsed.e164
        }
        const rows = await listMessages(
          db,
          customerId,
          { status: q.status || undefined, to, clientReference: q.client_reference || undefined },
          q.limit ?? 50,
        )
        return { data: rows.map((m) => ({ ...messageObject(m), customer_id: m.customerId })) }
      },
    )

    api.get(
      '/dashboard/api/messages/:id',
      { schema: { hide: true, params: Type.Object({ id: Type.String({ maxLength: 64 }) }) } },
      async (request) => {
        const id = request.params.id.toLowerCase()
        const owner = isUuid(id) ? await messageOwner(db, id) : undefined
        const m = owner ? await findMessage(db, owner, id) : undefined
        if (!m) throw notFound('message')
        const later = await messageEvents(db, m)
        return {
          ...messageObject(m),
          customer_id: m.customerId,
          events: [
            {
              status: m.sendAt ? 'scheduled' : 'queued',
              created_at: m.createdAt.toISOString(),
              detail: null,
            },
            ...later.map((e) => ({
              status: e.status,
              created_at: e.createdAt.toISOString(),
              detail: e.detail,
            })),
          ],
        }
      },
    )

    api.get(
      '/dashboard/api/customers',
      {
        schema: {
          hide: true,
          querystring: Type.Object(
            { q: Type.String({ minLength: 1, maxLength: 200 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => ({ data: await searchCustomers(db, request.query.q.trim(), 50) }),
    )

    api.get(
      '/dashboard/api/customers/:id/api_keys',
      { schema: { hide: true, params: Type.Object({ id: Type.String({ maxLength: 64 }) }) } },
      async (request) => {
        const id = request.params.id.toLowerCase()
        if (!isUuid(id)) throw notFound('customer')
        return { data: await customerKeys(db, id) }
      },
    )
  })
}
