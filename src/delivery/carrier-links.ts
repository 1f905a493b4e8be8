import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel'
import type { Carrier } from '../carriers/carrier.ts'
import type { CarrierConfig } from '../carriers/config.ts'
import { isTransientCarrierError, isUnconfirmedSubmitError } from '../carriers/errors.ts'
import type { RouteCandidate } from '../domain/routing.ts'
import { type Bucket, takeToken } from '../domain/token-bucket.ts'
import { createPriorityGate, type PriorityGate } from './priority-gate.ts'

/** A carrier link: a carrier as the worker drives it — its connector, routing facts, circuit breaker, throughput cap and priority gate. */
export interface CarrierLink {
  readonly name: string
  readonly carrier: Carrier
  readonly config: CarrierConfig
  readonly breaker: CircuitBreakerPolicy
  /** Waits until the carrier's throughput cap allows one more submit. */
  throttle(): Promise<void>
  /** Submits in progress at this carrier, at most its window; waiters served otp first. */
  readonly gate: PriorityGate
  candidate(): RouteCandidate
}

export interface BreakerOptions {
  /** Consecutive transient failures that open the circuit (default 5). */
  failures?: number
  /** How long an open circuit waits before letting a trial request through, ms (default 10 000). */
  halfOpenAfterMs?: number
}

/** Concurrent submits to a carrier without a configured window (HTTP carriers). */
const DEFAULT_GATE = 100

export function createCarrierLink(
  config: CarrierConfig,
  carrier: Carrier,
  opts: BreakerOptions = {},
): CarrierLink {
  const halfOpenAfter = opts.halfOpenAfterMs ?? 10_000
  // A carrier that stops answering submits (unconfirmed) is failing too: open the circuit, so the
  // next messages go elsewhere instead of each ending unknown there.
  const failing = (e: Error) => isTransientCarrierError(e) || isUnconfirmedSubmitError(e)
  const breaker = circuitBreaker(handleWhen(failing), {
    halfOpenAfter,
    breaker: new ConsecutiveBreaker(opts.failures ?? 5),
  })
  // cockatiel moves an open circuit to half-open only when called, so once halfOpenAfter has
  // passed the router must offer it again, or the trial request that closes it never comes.
  let openedAt = 0
  breaker.onBreak(() => {
    openedAt = Date.now()
  })
  const circuitAllows = () =>
    breaker.state === CircuitState.Closed ||
    breaker.state === CircuitState.HalfOpen ||
    (breaker.state === CircuitState.Open && Date.now() - openedAt >= halfOpenAfter)
  let bucket: Bucket | undefined
  const rate = config.throughput
  return {
    name: config.name,
    carrier,
    config,
    breaker,
    gate: createPriorityGate(config.window ?? DEFAULT_GATE),
    async throttle() {
      if (!rate) return
      for (;;) {
        const r = takeToken(bucket, Date.now(), rate, Math.max(1, rate / 10))
        bucket = r.bucket
        if (r.result.allowed) return
        await new Promise((res) => setTimeout(res, r.result.retryAfterMs))
      }
    },
    candidate: () => ({
      name: config.name,
      weight: config.weight,
      countries: config.countries,
      prefixes: config.prefixes,
      available: circuitAllows() && carrier.healthy(),
    }),
  }
}

export const circuitName = (s: CircuitState): string =>
  ({
    [CircuitState.Closed]: 'closed',
    [CircuitState.Open]: 'open',
    [CircuitState.HalfOpen]: 'half_open',
    [CircuitState.Isolated]: 'isolated',
  })[s]

/** The operator's view of a carrier (GET /v1/admin/providers: the v1 API's word for it). */
export function providerView(p: CarrierLink) {
  const stats = (p.carrier as { stats?: () => { inFlight: number; waiting: number } }).stats?.call(p.carrier)
  return {
    name: p.name,
    type: p.config.type,
    weight: p.config.weight,
    countries: p.config.countries ?? null,
    prefixes: p.config.prefixes ?? null,
    healthy: p.carrier.healthy(),
    circuit_state: circuitName(p.breaker.state),
    throughput_limit: p.config.throughput ?? null,
    window: p.config.window ?? null,
    in_flight: stats?.inFlight ?? null,
    waiting: stats?.waiting ?? null,
  }
}
