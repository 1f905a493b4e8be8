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
  /** Receipt delay of the embedded carrier simulator (no SMSGW_CARRIERS), ms. */
  SMSGW_SIM_RECEIPT_DELAY_MS: Type.Integer({ minimum: 0, default: 100 }),
  /** Body retention in days before message bodies are redacted. */
  SMSGW_BODY_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 30 }),
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
  /** A comment (SSE) or ping (WebSocket) is sent on every open live stream this often, ms. */
  SMSGW_STREAM_HEARTBEAT_MS: Type.Integer({ minimum: 10, default: 15_000 }),
  /** A live stream whose unsent output passes this many bytes is closed (it resumes with Last-Event-ID). */
  SMSGW_STREAM_MAX_BUFFER_BYTES: Type.Integer({ minimum: 1024, default: 1_048_576 }),
})

export type Config = Static<typeof ConfigSchema>

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
