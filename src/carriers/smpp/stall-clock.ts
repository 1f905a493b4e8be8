/**
 * A clock that stops while our event loop is stalled (a long synchronous task, GC, CPU starvation).
 * A response that arrived during a stall sits unread in the socket buffer, so a timeout measured in
 * wall time would blame the carrier for our own lag; measured on this clock it does not.
 */
export interface StallClock {
  /** Milliseconds of time in which the loop was free to run, from an arbitrary origin. */
  now(): number
  close(): void
}

/**
 * A ticker every `tickMs` (default 50): whatever it runs late beyond that counts as stalled. Lag
 * that is still going on (or ended and its tick has not run yet) counts too, so a timer that fires
 * right after a stall, before the ticker, already sees it.
 */
export function createStallClock(tickMs = 50): StallClock {
  let lastTick = performance.now()
  let stalled = 0
  const late = (t: number) => Math.max(0, t - lastTick - tickMs)
  const timer = setInterval(() => {
    const t = performance.now()
    stalled += late(t)
    lastTick = t
  }, tickMs).unref()
  return {
    now() {
      const t = performance.now()
      return t - stalled - late(t)
    },
    close() {
      clearInterval(timer)
    },
  }
}
