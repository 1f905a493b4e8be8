// A background loop over a database: passes back to back while there is work, otherwise an idle
// wait that doubles up to a bound, cut short by wake(). The dispatcher and the event relay use it.

export interface PollLoopOptions {
  /** One pass; returns how much it did (0 = idle). */
  pass: () => Promise<number>
  /** First wait after an idle pass, ms; doubles while idle up to maxIdleMs. */
  idleMs: number
  maxIdleMs: number
  /** A failed pass (the loop waits as if idle, then tries again). */
  onError: (err: unknown) => void
}

export interface PollLoop {
  start(): void
  /** Ends an idle wait at once (new work was just committed in this process). */
  wake(): void
  /** Stops after the running pass. */
  stop(): Promise<void>
}

export function createPollLoop(opts: PollLoopOptions): PollLoop {
  const maxIdleMs = Math.max(opts.idleMs, opts.maxIdleMs)
  let idleFor = opts.idleMs
  let running = false
  let loop: Promise<void> | undefined
  let wakeUp: (() => void) | undefined

  const sleep = () =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, idleFor)
      idleFor = Math.min(maxIdleMs, idleFor * 2)
      wakeUp = () => {
        clearTimeout(t)
        idleFor = opts.idleMs
        resolve()
      }
    })

  return {
    start() {
      if (running) return
      running = true
      loop = (async () => {
        while (running) {
          let n = 0
          try {
            n = await opts.pass()
          } catch (err) {
            opts.onError(err)
          }
          if (n > 0) idleFor = opts.idleMs
          else if (running) await sleep()
        }
      })()
    },
    wake() {
      wakeUp?.()
    },
    async stop() {
      running = false
      wakeUp?.()
      await loop
    },
  }
}
