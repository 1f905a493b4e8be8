/** Timers the simulator owns, so close() can cancel every pending answer and receipt. */
export interface Timers {
  after(ms: number, fn: () => void): void
  clear(): void
}

export function createTimers(): Timers {
  const pending = new Set<NodeJS.Timeout>()
  return {
    after(ms, fn) {
      const t = setTimeout(() => {
        pending.delete(t)
        fn()
      }, ms)
      pending.add(t)
    },
    clear() {
      for (const t of pending) clearTimeout(t)
      pending.clear()
    },
  }
}
