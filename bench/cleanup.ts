// One place that knows how to tear the run down, whichever way it ends (done, error, Ctrl-C,
// deadline): benchmarks start servers and a forgotten one would skew the next run.

type Cleanup = () => Promise<void> | void

const cleanups: Cleanup[] = []
let running: Promise<void> | undefined

/** Registers a teardown step; steps run last-in first-out. Returns a function that drops it. */
export function onCleanup(fn: Cleanup): () => void {
  cleanups.push(fn)
  return () => {
    const i = cleanups.indexOf(fn)
    if (i >= 0) cleanups.splice(i, 1)
  }
}

export function runCleanups(): Promise<void> {
  running ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!
      try {
        await fn()
      } catch (err) {
        console.error('cleanup failed:', err)
      }
    }
  })()
  return running
}

async function shutdown(code: number): Promise<never> {
  await runCleanups()
  process.exit(code)
}

export function installSignalHandlers(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      // A second Ctrl-C while children are still being stopped means "now": the process 'exit'
      // hook in server-process.ts still SIGKILLs whatever is left.
      if (running) process.exit(code)
      console.error(`\n${signal}: stopping child processes…`)
      void shutdown(code)
    })
  }
}

/** Ends the whole run if it is still going after `ms`: nothing in a benchmark may hang forever. */
export function startWatchdog(ms: number, what: string): () => void {
  const timer = setTimeout(() => {
    console.error(`\n${what}: still running after ${Math.round(ms / 1000)} s, giving up`)
    void shutdown(1)
  }, ms)
  // The watchdog alone must not keep a finished run alive.
  timer.unref()
  return () => clearTimeout(timer)
}
