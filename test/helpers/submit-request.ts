import { randomUUID } from 'node:crypto'
import type { SubmitRequest } from '../../src/carriers/carrier.ts'

/** A carrier submit request for `body` (GSM-7, receipt requested) with a fresh message id. */
export function submitRequest(body: string, extra: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    messageId: randomUUID(),
    to: '+14155550123',
    from: 'ACME',
    body,
    encoding: 'GSM-7',
    registeredDelivery: true,
    ...extra,
  }
}
