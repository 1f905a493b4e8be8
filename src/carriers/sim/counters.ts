// What the simulator saw. `duplicates` is the number the no-double-send invariant is checked with.

export interface SimCounters {
  /** submit_sm PDUs and HTTP submit requests, whatever the answer. */
  submitsReceived: number
  accepted: number
  rejected: { throttled: number; transient: number; permanent: number; outage: number; invalid: number }
  /** Receipts the client acknowledged (SMPP deliver_sm_resp OK, HTTP DLR endpoint 2xx). */
  receiptsSent: number
  /** Receipts given up on: no bound session to take them in time, no dlrUrl, or every POST failed. */
  receiptsFailed: number
  /** SMPP receipts waiting for a bind of their system_id (gauge). */
  receiptsQueued: number
  inboundSent: number
  /**
   * Our message id → extra accepted copies beyond the first (absent when sent once). A copy is an
   * accepted HTTP submit or an accepted first (or only) part over SMPP, so a resent multipart message
   * counts once, and the same id sent over SMPP and then HTTP counts as a duplicate too.
   */
  duplicates: Record<string, number>
  /** Distinct message ids accepted at least once. */
  uniqueMessageIds: number
  smpp: {
    binds: number
    bindsRefused: number
    boundSessions: number
    enquireLinks: number
    /** submit_sm received and not yet answered, on all sessions. */
    inFlight: number
    /** Highest inFlight seen on any single session: the client's window at work. */
    maxInFlight: number
    /** submit_sm received and never answered because the session closed first (not taken). */
    unanswered: number
    idleDrops: number
  }
}

export interface CounterStore {
  readonly c: SimCounters
  /** Records one accepted copy of the message identified by `key`. */
  recordCopy(key: string): void
  /** Records a submit received for `key`, whatever becomes of it. */
  recordReceived(key: string): void
  /** Keys of every message a submit was received for, answered or not. */
  received(): string[]
  snapshot(): SimCounters
  reset(): void
}

function fresh(): SimCounters {
  return {
    submitsReceived: 0,
    accepted: 0,
    rejected: { throttled: 0, transient: 0, permanent: 0, outage: 0, invalid: 0 },
    receiptsSent: 0,
    receiptsFailed: 0,
    receiptsQueued: 0,
    inboundSent: 0,
    duplicates: {},
    uniqueMessageIds: 0,
    smpp: {
      binds: 0,
      bindsRefused: 0,
      boundSessions: 0,
      enquireLinks: 0,
      inFlight: 0,
      maxInFlight: 0,
      unanswered: 0,
      idleDrops: 0,
    },
  }
}

export function createCounterStore(): CounterStore {
  let c = fresh()
  const copies = new Map<string, number>()
  const received = new Set<string>()
  return {
    get c() {
      return c
    },
    recordCopy(key) {
      const n = (copies.get(key) ?? 0) + 1
      copies.set(key, n)
      if (n === 1) c.uniqueMessageIds++
      else c.duplicates[key] = n - 1
    },
    recordReceived(key) {
      received.add(key)
    },
    received: () => [...received],
    snapshot: () => structuredClone(c),
    reset() {
      // Live gauges describe open sessions, not history, so they survive a reset.
      const { boundSessions, inFlight } = c.smpp
      const { receiptsQueued } = c
      c = fresh()
      c.smpp.boundSessions = boundSessions
      c.smpp.inFlight = inFlight
      c.receiptsQueued = receiptsQueued
      copies.clear()
      received.clear()
    },
  }
}
