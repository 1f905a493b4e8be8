/** Bounds how many handlers of one consumer run at once, and lets stop() wait for them. */
export interface InFlight {
  readonly full: boolean
  readonly size: number
  /** Runs a task that never rejects (see handleDelivery); the caller checks `full` first. */
  start(task: Promise<void>): void
  /** Resolves when a slot is free. */
  whenFree(): Promise<void>
  /** Resolves when nothing runs. */
  whenIdle(): Promise<void>
}

/** onDone runs after each task, e.g. so the memory bus can hand the free slot a message. */
export function createInFlight(limit: number, onDone: () => void = () => {}): InFlight {
  let size = 0
  let waiters: (() => void)[] = []
  const wake = () => {
    const w = waiters
    waiters = []
    for (const f of w) f()
  }
  return {
    get full() {
      return size >= limit
    },
    get size() {
      return size
    },
    start(task) {
      size++
      void task.finally(() => {
        size--
        wake()
        onDone()
      })
    },
    async whenFree() {
      while (size >= limit) await new Promise<void>((r) => waiters.push(r))
    },
    async whenIdle() {
      while (size > 0) await new Promise<void>((r) => waiters.push(r))
    },
  }
}
