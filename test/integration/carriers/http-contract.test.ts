// The Carrier contract against the HTTP adapter: submits POSTed to the simulator, receipts and MO
// coming back as signed webhooks to a stand-in for our provider routes, which checks the signature
// as the real route does and hands the JSON to handleReceipt / handleInbound.

import assert from 'node:assert/strict'
import type { WebhookCarrier } from '../../../src/carriers/carrier.ts'
import { createHttpCarrier } from '../../../src/carriers/http/http-carrier.ts'
import { createWebhookAuth, newWebhookSecret } from '../../../src/carriers/webhook-auth.ts'
import { carrierContract } from './contract.ts'
import { startProviderRoutes, startSim } from './helpers.ts'

const NAME = 'sim-http'

carrierContract('http', {
  protocol: 'http',
  status: { throttled: 429, transient: 503, permanent: 400 },
  permanent: { code: 'rejected', message: /invalid_destination/ },
  // The simulator answers 429 with Retry-After: 1.
  retryAfterMs: 1000,
  async setup() {
    const sim = await startSim()
    const secret = newWebhookSecret()
    const auth = createWebhookAuth([{ name: NAME, type: 'http', webhook_secret: secret }])
    let current: WebhookCarrier | undefined
    const routes = await startProviderRoutes(NAME, () => current ?? assert.fail('no carrier connected'), auth)
    return {
      sim,
      simOptions: {
        dlrUrl: `${routes.base}/dlr`,
        inboundUrl: `${routes.base}/inbound`,
        webhookSecret: secret,
      },
      async connect() {
        current = createHttpCarrier({ name: NAME, url: sim.httpUrl })
        return current
      },
      async close() {
        await sim.close()
        await routes.close()
      },
    }
  },
})
