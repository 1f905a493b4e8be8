// Start-up checks that depend on which roles share this process: refused before anything opens.

import { type Config, ConfigError } from '../config/config.ts'

export interface RoleSet {
  api: boolean
  webhooks?: boolean
}

/**
 * The api role seals endpoint secrets and the webhooks role opens them: in a split deployment
 * (NATS, the two in different processes) the key generated in one host's data dir would not be
 * the other's, and every delivery would fail to sign. They must share SMSGW_WEBHOOK_SECRET_KEY.
 */
export function checkWebhookKey(
  config: Pick<Config, 'NATS_URL' | 'SMSGW_WEBHOOK_SECRET_KEY'>,
  roles: RoleSet,
): void {
  const one = roles.api !== (roles.webhooks === true)
  if (one && config.NATS_URL && !config.SMSGW_WEBHOOK_SECRET_KEY) {
    throw new ConfigError(
      'SMSGW_WEBHOOK_SECRET_KEY: the api and webhooks roles run in separate processes and must share this key (base64 of 32 bytes)',
    )
  }
}
