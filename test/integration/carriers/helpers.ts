// Test helpers: start a simulator plus connectors, and collect what the connectors emit (and the
// shared wait helper, re-exported for these tests).

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

import { waitFor } from '../../helpers/wait.ts'

export { waitFor }

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
