// The carrier file (`SMSGW_CARRIERS`, JSON or YAML): one schema per carrier type, the static types
// derived from them, and errors that name the offending field (`carriers[1].port: …`).

import { readFile } from 'node:fs/promises'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { webhookAuthProblem } from './webhook-auth.ts'

const common = {
  /** Used in URLs (`/v1/providers/{name}/dlr`), logs and metrics. */
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' }),
  /** Share of traffic among carriers that can take a destination. */
  weight: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 100 }),
  /** ISO 3166 alpha-2; absent means every destination. */
  countries: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]{2}$' }), { minItems: 1 })),
  /** E.164 prefixes (with or without `+`), matched before countries. */
  prefixes: Type.Optional(Type.Array(Type.String({ pattern: '^\\+?[0-9]{1,15}$' }), { minItems: 1 })),
  /** Submits per second the carrier allows us. */
  throughput: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  /** Requests outstanding at once (SMPP window). */
  window: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
}

export const SmppCarrierEntrySchema = Type.Object(
  {
    ...common,
    type: Type.Literal('smpp'),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65_535 }),
    // SMPP 3.4 field sizes: system_id 16 and password 9 octets, NUL included.
    system_id: Type.String({ minLength: 1, maxLength: 15 }),
    password: Type.String({ maxLength: 8 }),
    system_type: Type.Optional(Type.String({ maxLength: 12 })),
    enquire_link_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Vendor TLV that carries our message id on submit_sm; false for carriers that reject unknown TLVs. */
    message_id_tlv: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0x1400, maximum: 0x3fff }), Type.Literal(false)]),
    ),
  },
  { additionalProperties: false },
)

export const HttpCarrierEntrySchema = Type.Object(
  {
    ...common,
    type: Type.Literal('http'),
    url: Type.String({ pattern: '^https?://[^\\s]+$' }),
    api_key: Type.Optional(Type.String({ minLength: 1 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Standard Webhooks secret (`whsec_<base64>`) the carrier signs its receipt and MO webhooks with. */
    webhook_secret: Type.Optional(Type.String({ minLength: 1 })),
    /** IPs / CIDR ranges the carrier's webhooks come from. */
    allowed_ips: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 100 })),
    /** Accept unauthenticated webhooks from this carrier (development only). Default false. */
    insecure_webhooks: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

export type SmppCarrierEntry = Static<typeof SmppCarrierEntrySchema>
export type HttpCarrierEntry = Static<typeof HttpCarrierEntrySchema>
export type CarrierConfig = SmppCarrierEntry | HttpCarrierEntry

export class CarrierConfigError extends Error {
  override readonly name = 'CarrierConfigError'
  readonly code = 'invalid_carrier_config'
}

function field(prefix: string, path: string): string {
  const parts = path.split('/').filter(Boolean)
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : `${acc}.${p}`), prefix)
}

function validate<S extends TSchema>(schema: S, value: unknown, at: string): Static<S> {
  const withDefaults = Value.Default(schema, Value.Clone(value))
  const errors = [...Value.Errors(schema, withDefaults)]
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${field(at, e.path)}: ${e.message} (got ${JSON.stringify(e.value)})`)
    throw new CarrierConfigError(`invalid carrier file:\n${[...new Set(lines)].join('\n')}`)
  }
  return withDefaults as Static<S>
}

/** Validates an already-parsed carrier file object. */
export function validateCarrierFile(doc: unknown): CarrierConfig[] {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { carriers?: unknown }).carriers)) {
    throw new CarrierConfigError('invalid carrier file:\n  carriers: expected an array of carriers')
  }
  const entries = (doc as { carriers: unknown[] }).carriers
  if (entries.length === 0)
    throw new CarrierConfigError('invalid carrier file:\n  carriers: needs at least one carrier')
  const seen = new Set<string>()
  return entries.map((entry, i) => {
    const at = `carriers[${i}]`
    const type = (entry as { type?: unknown } | null)?.type
    let cfg: CarrierConfig
    if (type === 'smpp') cfg = validate(SmppCarrierEntrySchema, entry, at)
    else if (type === 'http') cfg = validate(HttpCarrierEntrySchema, entry, at)
    else {
      throw new CarrierConfigError(
        `invalid carrier file:\n  ${at}.type: must be "smpp" or "http" (got ${JSON.stringify(type)})`,
      )
    }
    if (seen.has(cfg.name)) {
      throw new CarrierConfigError(
        `invalid carrier file:\n  ${at}.name: duplicate name ${JSON.stringify(cfg.name)}`,
      )
    }
    seen.add(cfg.name)
    const problem = webhookAuthProblem(cfg)
    if (problem) throw new CarrierConfigError(`invalid carrier file:\n  ${at} (${cfg.name}): ${problem}`)
    return cfg
  })
}

/** Parses carrier file text: JSON when it looks like JSON, YAML otherwise. */
export function parseCarrierFile(text: string, source = 'carrier file'): CarrierConfig[] {
  let doc: unknown
  try {
    doc = /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new CarrierConfigError(
      `${source}: not valid JSON or YAML: ${err instanceof Error ? err.message : err}`,
      {
        cause: err,
      },
    )
  }
  return validateCarrierFile(doc)
}

/** Reads and validates the file named by SMSGW_CARRIERS. */
export async function readCarrierFile(path: string): Promise<CarrierConfig[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new CarrierConfigError(
      `SMSGW_CARRIERS: cannot read ${path}: ${err instanceof Error ? err.message : err}`,
      {
        cause: err,
      },
    )
  }
  return parseCarrierFile(text, `SMSGW_CARRIERS (${path})`)
}

export interface SimEndpoints {
  host?: string
  smppPort: number
  httpPort: number
  /** The secret the simulator signs its HTTP webhooks with (newWebhookSecret()). */
  webhookSecret: string
}

/** A carrier simulator's SMPP endpoint as a carrier entry (the simulator takes any credentials). */
export function simSmppCarrier(
  name: string,
  port: number,
  opts: { host?: string; weight?: number; window?: number } = {},
): SmppCarrierEntry {
  return {
    name,
    type: 'smpp',
    host: opts.host ?? '127.0.0.1',
    port,
    system_id: 'smsgw',
    password: 'sim',
    weight: opts.weight ?? 100,
    ...(opts.window === undefined ? {} : { window: opts.window }),
  }
}

/** The default when SMSGW_CARRIERS is absent: the simulator's SMPP and HTTP endpoints as two carriers. */
export function defaultSimCarriers(sim: SimEndpoints): CarrierConfig[] {
  const host = sim.host ?? '127.0.0.1'
  const urlHost = host.includes(':') ? `[${host}]` : host
  return [
    simSmppCarrier('sim-smpp', sim.smppPort, { host, window: 10 }),
    {
      name: 'sim-http',
      type: 'http',
      url: `http://${urlHost}:${sim.httpPort}/messages`,
      weight: 100,
      webhook_secret: sim.webhookSecret,
    },
  ]
}
