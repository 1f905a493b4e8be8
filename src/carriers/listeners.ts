/**
 * Fan-out for receipt and MO callbacks. `emit` runs every listener and rethrows the first failure
 * after all have run, so the adapter can refuse the PDU (the carrier then redelivers it) instead
 * of acknowledging something nobody recorded.
 */
export interface Listeners<T> {
  add(fn: (value: T) => void): void
  emit(value: T): void
  readonly size: number
}

export function createListeners<T>(): Listeners<T> {
  const fns: Array<(value: T) => void> = []
  return {
    add(fn) {
      fns.push(fn)
    },
    emit(value) {
      let failure: { error: unknown } | undefined
      for (const fn of fns) {
        try {
          fn(value)
        } catch (error) {
          failure ??= { error }
        }
      }
      if (failure) throw failure.error
    },
    get size() {
      return fns.length
    },
  }
}
