import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/** One schema for the whole environment; the Config type is derived from it. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  NATS_URL: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /** JetStream stream name (default SMSGW). */
  SMSGW_NATS_STREAM: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'SMSGW' }),
  /** JetStream stream replicas: 3 on a 3-node cluster (default 1); the same on every process. */
  SMSGW_NATS_REPLICAS: Type.Integer({ minimum: 1, maximum: 5, default: 1 }),
  /** Subject prefix on the wire, to run isolated copies on one NATS server (tests, staging). */
  SMSGW_NATS_PREFIX: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
  SMSGW_DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  SMSGW_ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  SMSGW_CARRIERS: Type.Optional(Type.String({ minLength: 1 })),
  /** Largest group of accept requests committed in one transaction. */
  SMSGW_GROUP_MAX: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
  /** Accept transactions in flight at once per api process. */
  SMSGW_GROUP_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  /** PostgreSQL pool size per process. */
  SMSGW_DB_POOL: Type.Integer({ minimum: 2, maximum: 200, default: 10 }),
  /** Default per-customer rate limit (messages per second) when a customer has none. */
  SMSGW_DEFAULT_RATE_LIMIT_MPS: Type.Integer({ minimum: 1, default: 100 }),
  /** Largest request body accepted, in bytes. */
  SMSGW_BODY_LIMIT: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  /** How long an api process trusts a cached API key / rate table before re-reading it (ms). */
  SMSGW_AUTH_CACHE_MS: Type.Integer({ minimum: 0, default: 5000 }),
  /** How long a worker's claim on a message protects it from other workers (a dead worker's claims expire after it), ms. */
  SMSGW_DELIVERY_LEASE_MS: Type.Integer({ minimum: 1000, default: 60_000 }),
  /** A message a carrier took (`sent`) with no final receipt this long after its validity period ends `unknown`, s. */
  SMSGW_RECEIPT_GRACE_S: Type.Integer({ minimum: 0, default: 3600 }),
  /** The embedded carrier simulator answers every message sent from a number with this MO (`none`: no reply). */
  SMSGW_SIM_REPLY_BODY: Type.String({ minLength: 1, maxLength: 1600, default: 'Got it, thanks!' }),
  /** Receipt delay of the embedded carrier simulator (no SMSGW_CARRIERS), ms. */
  SMSGW_SIM_RECEIPT_DELAY_MS: Type.Integer({ minimum: 0, default: 100 }),
  /** Body retention in days before message bodies are redacted. */
  SMSGW_BODY_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 30 }),
  /** Message log days kept in PostgreSQL; older day partitions are archived to SMSGW_ARCHIVE_DIR and dropped (absent: kept for ever). */
  SMSGW_MESSAGE_RETENTION_DAYS: Type.Optional(Type.Integer({ minimum: 2 })),
  /** Where archived day partitions are written (default <SMSGW_DATA_DIR>/archive). */
  SMSGW_ARCHIVE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** How often the rollup role recomputes the buckets status events touched, ms. */
  SMSGW_ROLLUP_INTERVAL_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  /** A read replica for message lists, usage and reports (absent: DATABASE_URL). */
  DATABASE_READ_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /** ClickHouse HTTP interface (e.g. http://127.0.0.1:8123/?database=smsgw): usage and reports read from it, fed from status events. */
  CLICKHOUSE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** Per-customer budget of GET requests per second (burst: one second's worth), apart from sends. */
  SMSGW_READ_RATE_LIMIT_RPS: Type.Integer({ minimum: 1, default: 50 }),
  /** Per-customer budget of webhook configuration writes per second (endpoints, redeliver; burst: one second's worth). */
  SMSGW_WRITE_RATE_LIMIT_RPS: Type.Integer({ minimum: 1, default: 10 }),
  /** Time to receive a whole request, headers and body, before it is answered 408 and closed, ms. */
  SMSGW_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  /** Time to receive a request's headers, ms (at most SMSGW_REQUEST_TIMEOUT_MS). */
  SMSGW_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  /** A socket with no traffic at all for this long is closed, ms (0: never). */
  SMSGW_CONNECTION_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 120_000 }),
  /** An idle keep-alive connection is closed after this long, ms; keep it above the load balancer's. */
  SMSGW_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 72_000 }),
  /** Server-side cap on one SQL statement of the api and delivery pools, ms (0: none); migrations and maintenance have none. */
  SMSGW_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 30_000 }),
  /** Longest wait for a pooled database connection before a request is answered 503, ms. */
  SMSGW_DB_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  /**
   * Proxies whose X-Forwarded-For is believed (Fastify trustProxy): absent/`false` none (the
   * socket address is the client), a hop count (`1`), or IPs/CIDRs (`10.0.0.0/8,127.0.0.1`). Not
   * `true` ("any"): the leftmost X-Forwarded-For entry is the client's own to write, so any client
   * would pass any IP allow-list.
   */
  TRUST_PROXY: Type.Optional(
    Type.String({ pattern: '^(false|\\d{1,2}|[0-9A-Fa-f.:/]+(\\s*,\\s*[0-9A-Fa-f.:/]+)*)$' }),
  ),
  /** Serve /metrics on this port (with the health checks) instead of the api port. */
  SMSGW_METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  /** When set, /metrics answers only `Authorization: Bearer <this token>`. */
  SMSGW_METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /** `true` lets webhook endpoints and status_callback_url use http:// and loopback/private addresses (development, tests). */
  SMSGW_WEBHOOK_ALLOW_INSECURE: Type.Union([Type.Literal('true'), Type.Literal('false')], {
    default: 'false',
  }),
  /** Key sealing webhook secrets at rest, base64 of 32 bytes; absent → a key file in the data dir (single host only). */
  SMSGW_WEBHOOK_SECRET_KEY: Type.Optional(Type.String({ minLength: 40 })),
  /** First webhook retry delay, ms; doubles per attempt up to 4 h, retried for 24 h. */
  SMSGW_WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  /** A webhook delivery claimed by a process that died is taken again after this long, ms. */
  SMSGW_WEBHOOK_LEASE_MS: Type.Integer({ minimum: 1000, default: 60_000 }),
  /** Most webhook requests in flight at once per endpoint (and its pool's connections), per webhooks process; adaptive below it. */
  SMSGW_WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: 64 }),
  /** A comment (SSE) or ping (WebSocket) is sent on every open live stream this often, ms. */
  SMSGW_STREAM_HEARTBEAT_MS: Type.Integer({ minimum: 10, default: 15_000 }),
  /** A live stream whose unsent output passes this many bytes is closed (it resumes with Last-Event-ID). */
  SMSGW_STREAM_MAX_BUFFER_BYTES: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  // OpenTelemetry tracing (ADR 16): off unless an OTLP endpoint is set. The SDK reads the other
  // standard OTEL_* variables itself (service name, resource attributes, sampler, headers, batching).
  /** OTLP/HTTP base URL (`/v1/traces` is appended); setting it turns tracing on. */
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** OTLP/HTTP traces URL, used as is; setting it turns tracing on. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** Only `http/protobuf` (the OTLP default) is built in. */
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(Type.Literal('http/protobuf')),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Type.Optional(Type.Literal('http/protobuf')),
  /** `none` turns tracing off whatever the endpoint; `otlp` is the only exporter. */
  OTEL_TRACES_EXPORTER: Type.Optional(Type.Union([Type.Literal('otlp'), Type.Literal('none')])),
  /** `true` turns tracing off whatever the endpoint. */
  OTEL_SDK_DISABLED: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  /** Destination countries (ISO alpha-2, comma-separated, e.g. `US,CA`) where alphanumeric senders are refused; default none. */
  SMSGW_NUMERIC_SENDER_COUNTRIES: Type.String({
    pattern: '^\\s*([A-Za-z]{2}\\s*(,\\s*[A-Za-z]{2}\\s*)*)?$',
    default: '',
  }),
  /** How long an api process trusts its cached opt-out list and numbers of a customer before re-reading them in the background (ms); changes reach it at once over the bus. */
  SMSGW_COMPLIANCE_CACHE_MS: Type.Integer({ minimum: 0, default: 30_000 }),
})

export type Config = Static<typeof ConfigSchema>

/** TRUST_PROXY as Fastify's trustProxy option. */
export function trustProxyOf(config: Config): false | string[] | ((addr: string, hop: number) => boolean) {
  const v = config.TRUST_PROXY?.trim()
  if (!v || v === 'false') return false
  if (/^\d+$/.test(v)) {
    // A hop count: the nearest n addresses are proxies (what proxy-addr does with a number).
    const hops = Number(v)
    return (_addr, hop) => hop < hops
  }
  return v.split(',').map((s) => s.trim())
}

export class ConfigError extends Error {
  readonly code = 'invalid_config'
}

const INTEGER_KEYS = Object.entries(ConfigSchema.properties)
  .filter(([, s]) => (s as { type?: string }).type === 'integer')
  .map(([k]) => k)

/** Reads and validates the environment; a bad variable fails fast, naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const v = env[key]
    if (v === undefined || v === '') continue
    raw[key] = INTEGER_KEYS.includes(key) && /^-?\d+$/.test(v) ? Number(v) : v
  }
  const withDefaults = Value.Default(ConfigSchema, raw)
  const errors = [...Value.Errors(ConfigSchema, withDefaults)]
  if (errors.length > 0) {
    const lines = errors.map(
      (e) => `  ${e.path.slice(1) || '(root)'}: ${e.message} (got ${JSON.stringify(e.value)})`,
    )
    throw new ConfigError(`invalid environment:\n${[...new Set(lines)].join('\n')}`)
  }
  return withDefaults as Config
}
