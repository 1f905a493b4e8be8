/**
 * The SMPP window: at most `size` requests outstanding on a bind. Waiters are served FIFO so a burst
 * cannot starve earlier callers; `rejectWaiters` fails everyone waiting when the bind goes away.
 */
export interface Window {
  acquire(): Promise<void>
  release(): void
  rejectWaiters(err: Error): void
  readonly inUse: number
  readonly waiting: number
}

export function createWindow(size: number): Window {
  if (!(Number.isInteger(size) && size >= 1))
    throw new RangeError(`window must be a positive integer, got ${size}`)
  let inUse = 0
  const waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  return {
    acquire() {
      if (inUse < size && waiters.length === 0) {
        inUse++
        return Promise.resolve()
      }
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
    },
    release() {
      const next = waiters.shift()
      // The slot passes straight to the next waiter, so inUse stays the same.
      if (next) next.resolve()
      else inUse = Math.max(0, inUse - 1)
    },
    rejectWaiters(err) {
      for (const w of waiters.splice(0)) w.reject(err)
    },
    get inUse() {
      return inUse
    },
    get waiting() {
      return waiters.length
    },
  }
}
