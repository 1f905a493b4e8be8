import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/** The api's Prometheus metrics, in a registry of its own (no global singleton). */
export function createApiMetrics(shared?: Registry) {
  const registry = shared ?? new Registry()
  if (!shared) collectDefaultMetrics({ register: registry })
  return {
    registry,
    requestDuration: new Histogram({
      name: 'smsgw_http_request_duration_seconds',
      help: 'HTTP request latency by route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'smsgw_messages_accepted_total',
      help: 'Messages accepted (charged and queued)',
      labelNames: ['priority'] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'smsgw_requests_rejected_total',
      help: 'Requests answered with an error, by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    groupSeconds: new Histogram({
      name: 'smsgw_billing_group_seconds',
      help: 'Time to commit one billing group, by path (fast: one statement; exact: locking transaction)',
      labelNames: ['path'] as const,
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    groupSize: new Histogram({
      name: 'smsgw_billing_group_size',
      help: 'Accept requests committed per billing transaction (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
  }
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>
