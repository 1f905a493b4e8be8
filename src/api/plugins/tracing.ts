// The HTTP server span of every request, by three Fastify hooks registered only when tracing is on
// (ADR 16: no hook, hence no cost per request, when it is off).

import type { FastifyInstance } from 'fastify'
import type { Tracing } from '../../observability/tracing.ts'

/** `pathOf` turns a request URL into what a span may show (no phone numbers, no query values). */
export function traceRequests(app: FastifyInstance, tracing: Tracing, pathOf: (url: string) => string): void {
  if (!tracing.on) return
  app.addHook('onRequest', (request, _reply, done) => {
    const tp = request.headers.traceparent
    tracing.requestStarted(
      request,
      request.method,
      pathOf(request.url),
      typeof tp === 'string' ? tp : undefined,
    )
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    tracing.requestEnded(request, reply.statusCode, request.routeOptions.url)
    done()
  })
  app.addHook('onRequestAbort', (request, done) => {
    tracing.requestEnded(request, 499, request.routeOptions.url, new Error('client closed the request'))
    done()
  })
}
