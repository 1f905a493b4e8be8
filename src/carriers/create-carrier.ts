// Builds the adapter for one carrier file entry; the start-up module calls this once per carrier.

import type { Carrier } from './carrier.ts'
import type { CarrierConfig } from './config.ts'
import { createHttpCarrier } from './http/http-carrier.ts'
import { createSmppCarrier, type SmppCarrierEvent } from './smpp/smpp-carrier.ts'

export interface CarrierHooks {
  /** SMPP link lifecycle (bound, disconnected, reconnect scheduled…), tagged with the carrier name. */
  onSmppEvent?: (carrier: string, e: SmppCarrierEvent) => void
}

export function createCarrier(cfg: CarrierConfig, hooks: CarrierHooks = {}): Carrier {
  if (cfg.type === 'http') {
    return createHttpCarrier({
      name: cfg.name,
      url: cfg.url,
      ...(cfg.api_key === undefined ? {} : { apiKey: cfg.api_key }),
      ...(cfg.timeout_ms === undefined ? {} : { timeoutMs: cfg.timeout_ms }),
    })
  }
  const onSmppEvent = hooks.onSmppEvent
  return createSmppCarrier({
    name: cfg.name,
    host: cfg.host,
    port: cfg.port,
    systemId: cfg.system_id,
    password: cfg.password,
    ...(cfg.system_type === undefined ? {} : { systemType: cfg.system_type }),
    ...(cfg.window === undefined ? {} : { window: cfg.window }),
    ...(cfg.enquire_link_ms === undefined ? {} : { enquireLinkMs: cfg.enquire_link_ms }),
    ...(cfg.message_id_tlv === undefined ? {} : { messageIdTlv: cfg.message_id_tlv }),
    ...(onSmppEvent ? { onEvent: (e: SmppCarrierEvent) => onSmppEvent(cfg.name, e) } : {}),
  })
}
