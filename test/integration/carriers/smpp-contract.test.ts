// The Carrier contract against the SMPP adapter, bound to the simulator's SMSC.

import { SmppStatus } from '../../../src/carriers/errors.ts'
import { carrierContract } from './contract.ts'
import { bindSmpp, startSim } from './helpers.ts'

carrierContract('smpp', {
  protocol: 'smpp',
  status: {
    throttled: SmppStatus.ESME_RTHROTTLED,
    transient: SmppStatus.ESME_RSYSERR,
    permanent: SmppStatus.ESME_RINVDSTADR,
  },
  permanent: { code: 'invalid_destination', message: /ESME_RINVDSTADR/ },
  retryAfterMs: undefined,
  async setup() {
    const sim = await startSim()
    return {
      sim,
      simOptions: {},
      connect: async () => (await bindSmpp(sim)).carrier,
      close: () => sim.close(),
    }
  },
})
