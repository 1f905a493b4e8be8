/**
 * Reports repeated events once per burst, not once each: the first event of a key is reported at
 * once, later ones within `windowMs` are counted and reported together when the window ends.
 * 500 unmatched receipts in a second are two log lines, not 500.
 */
export interface BurstReporter<E> {
  add(key: string, event: E): void
  /** Reports what is still counted and stops the timers. */
  flush(): void
}

export function createBurstReporter<E>(
  /** `repeats` is false for the first event of a burst (count 1), true for the count at its end. */
  report: (key: string, count: number, first: E, repeats: boolean) => void,
  windowMs = 10_000,
): BurstReporter<E> {
  const open = new Map<string, { count: number; first?: E; timer: NodeJS.Timeout }>()
  const close = (key: string) => {
    const b = open.get(key)
    if (!b) return
    clearTimeout(b.timer)
    open.delete(key)
    if (b.first !== undefined && b.count > 0) report(key, b.count, b.first, true)
  }
  return {
    add(key, event) {
      const b = open.get(key)
      if (b) {
        b.count++
        b.first ??= event
        return
      }
      report(key, 1, event, false)
      // The window stays open after the first report; what arrives in it is reported at its end.
      open.set(key, { count: 0, timer: setTimeout(() => close(key), windowMs).unref() })
    },
    flush() {
      for (const key of [...open.keys()]) close(key)
    },
  }
}
