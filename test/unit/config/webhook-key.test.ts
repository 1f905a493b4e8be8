// Split deployments must share SMSGW_WEBHOOK_SECRET_KEY: the api seals secrets the webhooks role opens.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkWebhookKey } from '../../../src/cli/role-config.ts'
import { ConfigError } from '../../../src/config/config.ts'

const NATS = { NATS_URL: 'nats://127.0.0.1:4222' }
const KEY = { SMSGW_WEBHOOK_SECRET_KEY: Buffer.alloc(32, 1).toString('base64') }

describe('webhook key of split roles', () => {
  it('refuses the webhooks or api role alone on NATS without SMSGW_WEBHOOK_SECRET_KEY', () => {
    for (const roles of [{ api: false, webhooks: true }, { api: true }, { api: true, webhooks: false }]) {
      assert.throws(
        () => checkWebhookKey(NATS, roles),
        (err) => err instanceof ConfigError && /^SMSGW_WEBHOOK_SECRET_KEY:/.test(err.message),
        JSON.stringify(roles),
      )
    }
  })

  it('accepts the key, both roles in one process, or no NATS (one process)', () => {
    checkWebhookKey({ ...NATS, ...KEY }, { api: false, webhooks: true })
    checkWebhookKey(NATS, { api: true, webhooks: true })
    checkWebhookKey({}, { api: true })
    checkWebhookKey(NATS, { api: false })
  })
})
