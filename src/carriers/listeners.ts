/**
 * Fan-out for receipt and MO callbacks. `emit` runs every listener and rethrows the first failure
 * after all have run, so the adapter can refuse the PDU (the carrier then redelivers it) instead
 * of acknowledging something nobody recorded.
 */
export type Listener<T> = (value: T) => unknown

export interface Listeners<T> {
  add(fn: Listener<T>): void
  /** Resolves once every listener has finished (a listener may persist before the PDU is acknowledged). */
  emit(value: T): Promise<void>
  readonly size: number
}

export function createListeners<T>(): Listeners<T> {
  const fns: Listener<T>[] = []
  return {
    add(fn) {
      fns.push(fn)
    },
    async emit(value) {
      const results = await Promise.allSettled(fns.map(async (fn) => fn(value)))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
    },
    get size() {
      return fns.length
    },
  }
}
