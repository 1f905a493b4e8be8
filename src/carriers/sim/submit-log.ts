// The last submits the simulator answered, for tests that check what went over the wire.

import type { Protocol, Verdict } from './behavior.ts'

export interface SubmitRecord {
  protocol: Protocol
  /** Our message id, when the connector sent it (HTTP `id`, SMPP vendor TLV). */
  messageId?: string
  to: string
  from: string
  /** Decoded text of this part, without the UDH. */
  text: string
  verdict: Verdict
  carrierId?: string
  /** SMPP only. */
  dataCoding?: number
  esmClass?: number
  concat?: { ref: number; total: number; seq: number }
}

export interface SubmitLog {
  add(r: SubmitRecord): void
  list(): SubmitRecord[]
  clear(): void
}

export function createSubmitLog(capacity = 1000): SubmitLog {
  let records: SubmitRecord[] = []
  return {
    add(r) {
      records.push(r)
      // Trim in chunks so a long benchmark run does not shift the array on every submit.
      if (records.length > capacity * 2) records = records.slice(-capacity)
    },
    list: () => structuredClone(records.slice(-capacity)),
    clear() {
      records = []
    },
  }
}
