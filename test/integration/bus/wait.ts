/** Await-a-condition helpers for the bus tests: every wait has a deadline, none "lets it settle". */
import { waitFor } from '../../helpers/wait.ts'

/** Collects events and lets a test await a condition over them, woken on each push. */
export class Inbox<T> {
  readonly items: T[] = []
  private readonly waiters = new Set<() => void>()

  push(item: T): void {
    this.items.push(item)
    for (const w of [...this.waiters]) w()
  }

  /** Resolves with the items once pred holds; rejects naming `what` at the deadline. */
  until(pred: (items: T[]) => boolean, what: string, timeoutMs = 5_000): Promise<T[]> {
    if (pred(this.items)) return Promise.resolve(this.items)
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this.items)) return
        done()
        resolve(this.items)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${this.items.length})`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
    })
  }
}

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls an async condition (broker state has no events to wait on) until it holds or the deadline. */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  await waitFor(cond, what, timeoutMs, 10)
}

/**
 * Asserts that something does NOT happen for a while (no redelivery after term, none past
 * maxDeliver). A negative claim needs an observation window; it fails at the first violation.
 */
export async function holdsFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (!cond()) throw new Error(`${what} stopped holding`)
    await tick(10)
  }
  if (!cond()) throw new Error(`${what} stopped holding`)
}

/** Resolves with a promise and the function that releases it (a gate a handler waits on). */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {}
  const opened = new Promise<void>((r) => {
    open = r
  })
  return { opened, open }
}

/** Simulated work inside a handler (not a wait for the system to settle). */
export const work = tick
