import { Counter, type Registry } from 'prom-client'
import type { InboundHandlerOptions } from './inbound-handler.ts'

/** The inbound handler's hooks as Prometheus counters: stored MO by routed/unrouted, keyword replies by outcome. */
export function inboundMetrics(registry: Registry): Pick<InboundHandlerOptions, 'onStored' | 'onReply'> {
  const stored = new Counter({
    name: 'smsgw_inbound_messages_total',
    help: 'Inbound (MO) messages stored, by whether they matched a customer (routed="false": kept for the operator)',
    labelNames: ['routed'],
    registers: [registry],
  })
  const replies = new Counter({
    name: 'smsgw_keyword_replies_total',
    help: 'Replies to STOP/START/HELP keywords, by action and outcome (sent, or why not)',
    labelNames: ['action', 'outcome'],
    registers: [registry],
  })
  stored.inc({ routed: 'true' }, 0)
  stored.inc({ routed: 'false' }, 0)
  return {
    onStored: (m) => stored.inc({ routed: String(m.customerId !== null) }),
    onReply: (action, o) => replies.inc({ action, outcome: o.kind === 'sent' ? 'sent' : o.reason }),
  }
}
