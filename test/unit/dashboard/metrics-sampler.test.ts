// The dashboard's live figures from a prom-client registry: rates per second between reads,
// latency quantiles over the last reads (as Prometheus' histogram_quantile computes them), lanes
// and carriers from their labels.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { createSampleMaker, quantile } from '../../../src/dashboard/metrics-sampler.ts'

describe('dashboard metrics sampler', () => {
  it('interpolates within the bucket as histogram_quantile does; null without observations', () => {
    const b = (pairs: [number, number][]) => new Map(pairs)
    assert.equal(quantile(0.5, b([[Number.POSITIVE_INFINITY, 0]])), null)
    // 10 observations: 4 ≤ 0.1, 10 ≤ 0.2 → the median is 0.1 + 0.1 × (5 − 4)/(10 − 4).
    const m = quantile(
      0.5,
      b([
        [0.1, 4],
        [0.2, 10],
        [Number.POSITIVE_INFINITY, 10],
      ]),
    )
    assert.ok(m !== null && Math.abs(m - (0.1 + 0.1 / 6)) < 1e-12)
    // In +Inf: the highest finite bound.
    assert.equal(
      quantile(
        0.99,
        b([
          [0.1, 1],
          [Number.POSITIVE_INFINITY, 2],
        ]),
      ),
      0.1,
    )
  })

  it('turns registry reads into rates, windowed quantiles, lanes and carriers', async () => {
    const registry = new Registry()
    const accepted = new Counter({
      name: 'smsgw_messages_accepted_total',
      help: 'h',
      labelNames: ['priority'],
      registers: [registry],
    })
    const http = new Histogram({
      name: 'smsgw_http_request_duration_seconds',
      help: 'h',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.01, 0.1, 1],
      registers: [registry],
    })
    const lane = new Gauge({
      name: 'smsgw_lane_pending',
      help: 'h',
      labelNames: ['lane'],
      registers: [registry],
    })
    const circuit = new Gauge({
      name: 'smsgw_carrier_circuit_state',
      help: 'h',
      labelNames: ['carrier'],
      registers: [registry],
    })
    const errors = new Counter({
      name: 'smsgw_submit_errors_total',
      help: 'h',
      labelNames: ['carrier', 'kind'],
      registers: [registry],
    })
    const make = createSampleMaker(2)
    const first = make(await registry.getMetricsAsJSON(), 1_000)
    assert.equal(first.accepted_per_s, 0)
    assert.equal(first.accept_p99_ms, null)

    accepted.inc({ priority: 'otp' }, 6)
    accepted.inc({ priority: 'bulk' }, 4)
    for (let i = 0; i < 10; i++)
      http.observe({ method: 'POST', route: '/v1/messages', status_code: 202 }, 0.005)
    // Another route's latency is not the accept latency.
    http.observe({ method: 'GET', route: '/v1/messages/:id', status_code: 200 }, 0.5)
    lane.set({ lane: 'otp' }, 7)
    circuit.set({ carrier: 'a' }, 2)
    errors.inc({ carrier: 'a', kind: 'throttled' }, 3)
    const second = make(await registry.getMetricsAsJSON(), 3_000)
    assert.equal(second.accepted_per_s, 5, '10 messages in 2 s')
    assert.equal(second.accept_p50_ms, 5)
    assert.deepEqual(second.lanes, [{ lane: 'otp', outbox: null, pending: 7 }])
    assert.equal(second.carriers.length, 1)
    assert.equal(second.carriers[0]?.circuit, 'open')
    assert.deepEqual(second.carriers[0]?.errors, { throttled: 3 })

    // Window of 2 reads: the fast requests still count one read later, then drop out.
    const third = make(await registry.getMetricsAsJSON(), 4_000)
    assert.equal(third.accepted_per_s, 0)
    assert.equal(third.accept_p50_ms, 5)
    const fourth = make(await registry.getMetricsAsJSON(), 5_000)
    assert.equal(fourth.accept_p50_ms, null)
    assert.equal(fourth.totals.accepted, 10)
  })
})
