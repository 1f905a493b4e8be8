// Test helpers: start a simulator plus connectors, collect what the connectors emit, stand in for
// our provider routes, and build submit requests (and the shared wait helper, re-exported).

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { WebhookCarrier } from '../../../src/carriers/carrier.ts'
import { CarrierPayloadError } from '../../../src/carriers/errors.ts'
import {
  type CarrierSim,
  type CreateCarrierSimOptions,
  createCarrierSim,
} from '../../../src/carriers/sim/carrier-sim.ts'
import { DEFAULT_SIM_OPTIONS } from '../../../src/carriers/sim/options.ts'
import {
  createSmppCarrier,
  type SmppCarrier,
  type SmppCarrierConfig,
  type SmppCarrierEvent,
} from '../../../src/carriers/smpp/smpp-carrier.ts'

import { type WebhookAuth, WebhookAuthError } from '../../../src/carriers/webhook-auth.ts'
import { submitRequest } from '../../helpers/submit-request.ts'
import { waitFor } from '../../helpers/wait.ts'

export { submitRequest, waitFor }

/** A fresh simulator per file; `reset` restores default behaviour and zeroes counters between tests. */
export async function startSim(opts: CreateCarrierSimOptions = {}): Promise<CarrierSim & { reset(): void }> {
  const sim = await createCarrierSim(opts)
  return Object.assign(sim, {
    reset() {
      sim.setOptions(DEFAULT_SIM_OPTIONS)
      sim.resetCounters()
    },
  })
}

export interface BoundCarrier {
  carrier: SmppCarrier
  events: SmppCarrierEvent[]
}

/** An SMPP connector to the simulator, resolved once bound. */
export async function bindSmpp(
  sim: CarrierSim,
  cfg: Partial<SmppCarrierConfig> = {},
  waitBound = true,
): Promise<BoundCarrier> {
  const events: SmppCarrierEvent[] = []
  const carrier = createSmppCarrier({
    name: 'sim-smpp',
    host: sim.host,
    port: sim.smppPort,
    systemId: 'smsgw',
    password: 'secret',
    reconnect: { initialMs: 20, maxMs: 200, jitter: false },
    responseTimeoutMs: 2000,
    ...cfg,
    onEvent: (e) => {
      events.push(e)
      cfg.onEvent?.(e)
    },
  })
  if (waitBound) await waitFor(() => carrier.healthy(), 'the connector to bind')
  return { carrier, events }
}

export interface ProviderRoutes {
  /** http://127.0.0.1:<port>/v1/providers/<name>: append /dlr or /inbound. */
  base: string
  close(): Promise<void>
}

/**
 * Our provider endpoints in miniature: POST /v1/providers/{name}/dlr and /inbound hand the JSON to
 * the carrier's handleReceipt / handleInbound as the real route does. With `auth`, a request must
 * pass its check first (401 otherwise), as the real route's; a listener failure is a 500, so the
 * carrier posts it again.
 */
export async function startProviderRoutes(
  name: string,
  carrier: () => WebhookCarrier,
  auth?: WebhookAuth,
): Promise<ProviderRoutes> {
  const server = createServer((request, res) => {
    const chunks: Buffer[] = []
    request.on('data', (c: Buffer) => chunks.push(c))
    request.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      try {
        auth?.verify(name, raw, request.headers)
        const json: unknown = JSON.parse(raw)
        if (request.url?.endsWith('/dlr')) await carrier().handleReceipt(json)
        else await carrier().handleInbound(json)
        res.writeHead(204).end()
      } catch (err) {
        const status = err instanceof CarrierPayloadError ? 400 : err instanceof WebhookAuthError ? 401 : 500
        res.writeHead(status).end(String(err))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    base: `http://127.0.0.1:${port}/v1/providers/${name}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
