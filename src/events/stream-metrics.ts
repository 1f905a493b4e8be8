// The live stream's gauges, read from the hub when scraped.

import { Counter, Gauge, type Registry } from 'prom-client'
import type { StreamHub } from './stream-hub.ts'

export function registerStreamMetrics(registry: Registry, hub: StreamHub): void {
  const registers = [registry]
  new Gauge({
    name: 'smsgw_event_streams_open',
    help: 'Live event streams (SSE and WebSocket) open in this process',
    registers,
    collect() {
      this.set(hub.stats().streams)
    },
  })
  new Gauge({
    name: 'smsgw_event_stream_customers',
    help: 'Customers with open live streams in this process (one bus subscription each)',
    registers,
    collect() {
      this.set(hub.stats().customers)
    },
  })
  const overflows = new Counter({
    name: 'smsgw_event_stream_replay_overflows_total',
    help: 'Live events dropped from a resuming stream hold that was full (re-read from the database)',
    registers,
    collect() {
      overflows.reset()
      overflows.inc(hub.stats().overflows)
    },
  })
}
