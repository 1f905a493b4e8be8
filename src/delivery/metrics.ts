import { CircuitState } from 'cockatiel'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Bus } from '../bus/bus.ts'
import { laneDurable } from '../bus/subjects.ts'
import type { Priority } from '../domain/message.ts'
import { LANES } from '../domain/message.ts'
import type { CarrierLink } from './carrier-links.ts'

const CIRCUIT_VALUE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.HalfOpen]: 1,
  [CircuitState.Open]: 2,
  [CircuitState.Isolated]: 3,
}

/** The delivery pipeline's Prometheus metrics, registered in the caller's registry. */
export function createPipelineMetrics(
  registry: Registry,
  bus: Bus,
  links: () => CarrierLink[],
  parkedReceipts: () => Promise<number>,
  /** Outbox depth of a lane; given where the dispatcher runs (it owns the outbox). */
  outboxBacklog?: (lane: Priority) => Promise<number>,
) {
  const registers = [registry]
  if (outboxBacklog)
    new Gauge({
      name: 'smsgw_outbox_backlog',
      help: 'Messages per lane waiting in the PostgreSQL outbox to be released to the bus (counted up to 100,000)',
      labelNames: ['lane'] as const,
      registers,
      async collect() {
        for (const lane of LANES) this.set({ lane }, await outboxBacklog(lane).catch(() => Number.NaN))
      },
    })
  new Gauge({
    name: 'smsgw_receipts_parked',
    help: 'Receipts that matched no message yet, waiting for their carrier id (deleted after 24 h)',
    registers,
    async collect() {
      this.set(await parkedReceipts().catch(() => Number.NaN))
    },
  })
  new Gauge({
    name: 'smsgw_lane_pending',
    help: 'Bus messages (batches of up to 64 delivery jobs) per lane not yet settled by a worker',
    labelNames: ['lane'] as const,
    registers,
    async collect() {
      for (const lane of LANES)
        this.set({ lane }, await bus.pending(laneDurable(lane)).catch(() => Number.NaN))
    },
  })
  new Gauge({
    name: 'smsgw_carrier_circuit_state',
    help: 'Circuit breaker per carrier: 0 closed, 1 half-open, 2 open, 3 isolated',
    labelNames: ['carrier'] as const,
    registers,
    collect() {
      for (const p of links()) this.set({ carrier: p.name }, CIRCUIT_VALUE[p.breaker.state])
    },
  })
  new Gauge({
    name: 'smsgw_carrier_window_in_use',
    help: 'Submits awaiting the carrier per carrier (SMPP window use)',
    labelNames: ['carrier'] as const,
    registers,
    collect() {
      for (const p of links()) {
        const stats = (p.carrier as { stats?: () => { inFlight: number } }).stats
        if (stats) this.set({ carrier: p.name }, stats.call(p.carrier).inFlight)
      }
    },
  })
  return {
    dispatched: new Counter({
      name: 'smsgw_dispatched_total',
      help: 'Messages released from the outbox to the bus, by lane',
      labelNames: ['lane'] as const,
      registers,
    }),
    submitSeconds: new Histogram({
      name: 'smsgw_submit_seconds',
      help: 'Carrier submit latency per carrier (accepted submits)',
      labelNames: ['carrier'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    submitErrors: new Counter({
      name: 'smsgw_submit_errors_total',
      help: 'Failed submit attempts per carrier and kind (transient, throttled, permanent, circuit_open)',
      labelNames: ['carrier', 'kind'] as const,
      registers,
    }),
    receipts: new Counter({
      name: 'smsgw_receipts_total',
      help: 'Receipts matched to a message, by the message status they produced',
      labelNames: ['status'] as const,
      registers,
    }),
    receiptsUnmatched: new Counter({
      name: 'smsgw_receipts_unmatched_total',
      help: 'Receipts that matched no message on arrival and were parked, by carrier',
      labelNames: ['carrier'] as const,
      registers,
    }),
    receiptsRematched: new Counter({
      name: 'smsgw_receipts_rematched_total',
      help: 'Parked receipts applied later, once their carrier id was recorded',
      registers,
    }),
    receiptErrors: new Counter({
      name: 'smsgw_receipt_errors_total',
      help: 'Receipts that could not be recorded (the carrier redelivers) and failed re-matches of parked receipts',
      registers,
    }),
    carrierReceipts: new Counter({
      name: 'smsgw_carrier_receipts_total',
      help: 'Receipts matched to a message part, per carrier (against smsgw_submit_seconds_count: a carrier that stops sending them)',
      labelNames: ['carrier'] as const,
      registers,
    }),
    receiptSeconds: new Histogram({
      name: 'smsgw_receipt_seconds',
      help: 'Time from a part being accepted by the carrier to its receipt',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
      registers,
    }),
    deliverySeconds: new Histogram({
      name: 'smsgw_delivery_seconds',
      help: 'Time from accept to the delivered receipt being recorded, per priority',
      labelNames: ['priority'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200],
      registers,
    }),
    deadLetters: new Counter({
      name: 'smsgw_dead_letters_total',
      help: 'Messages dead-lettered, by lane and final status',
      labelNames: ['lane', 'status'] as const,
      registers,
    }),
  }
}

export type PipelineMetrics = ReturnType<typeof createPipelineMetrics>
