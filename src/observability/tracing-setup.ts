// Tracing from the environment: the OpenTelemetry SDK with an OTLP/HTTP (protobuf) exporter when an
// endpoint is configured, TRACING_OFF otherwise. The SDK is loaded only when tracing is on.

import type { Config } from '../config/config.ts'
import { createTracing, TRACING_OFF, type Tracing } from './tracing.ts'

export type TracingConfig = Pick<
  Config,
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
  | 'OTEL_TRACES_EXPORTER'
  | 'OTEL_SDK_DISABLED'
>

export interface RunningTracing {
  tracing: Tracing
  /** Exports the spans still buffered, then stops the exporter (a no-op when off). */
  shutdown(): Promise<void>
}

/** On when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. */
export function tracingEnabled(config: TracingConfig): boolean {
  return tracesUrl(config) !== undefined
}

/** Where spans go: the traces endpoint as is, or the base endpoint plus `/v1/traces` (the OTLP rule). */
export function tracesUrl(config: TracingConfig): string | undefined {
  if (config.OTEL_SDK_DISABLED === 'true' || config.OTEL_TRACES_EXPORTER === 'none') return undefined
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined
}

/**
 * Starts tracing for one process (`role`: api, worker, api+dispatcher+worker…). The exporter and
 * the sampler read their standard variables (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, …)
 * from the environment themselves; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override ours.
 */
export async function startTracing(config: TracingConfig, role: string): Promise<RunningTracing> {
  const url = tracesUrl(config)
  if (url === undefined) return { tracing: TRACING_OFF, shutdown: async () => {} }
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'),
  ])
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'smsgw', 'smsgw.role': role }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  })
  return { tracing: createTracing({ provider }), shutdown: () => provider.shutdown() }
}
