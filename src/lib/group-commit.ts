/**
 * Group commit: callers submit one item each; items are handed to `run` in groups, so one
 * database transaction serves many requests. A group is flushed as soon as a slot is free
 * (at most `concurrency` groups in flight), so under light load nothing waits and under heavy
 * load groups grow by themselves up to `maxBatch` — no fixed timer to tune.
 */
export interface GroupCommitOptions<I, O> {
  /** Largest group handed to run, in weight (default 500). */
  maxBatch?: number
  /** An item's share of maxBatch (default 1); a group always takes at least one item. */
  weigh?: (item: I) => number
  /** Groups in flight at once (default 4). */
  concurrency?: number
  /** Processes a group; must return one outcome per item, in order. */
  run: (items: I[]) => Promise<O[]>
  /** Observes each group's size (metrics). */
  onGroup?: (size: number) => void
}

export interface GroupCommitter<I, O> {
  submit(item: I): Promise<O>
  /** Resolves once every submitted item has settled. */
  drain(): Promise<void>
  readonly pending: number
}

interface Waiter<I, O> {
  item: I
  resolve: (o: O) => void
  reject: (e: unknown) => void
}

export function createGroupCommitter<I, O>(opts: GroupCommitOptions<I, O>): GroupCommitter<I, O> {
  const maxBatch = opts.maxBatch ?? 500
  const concurrency = opts.concurrency ?? 4
  let queue: Waiter<I, O>[] = []
  let inFlight = 0
  let idle: (() => void)[] = []
  let scheduled = false

  const settleIdle = () => {
    if (inFlight === 0 && queue.length === 0) {
      for (const f of idle) f()
      idle = []
    }
  }

  const weigh = opts.weigh
  let queuedWeight = 0
  /** How many queued items the next group takes. */
  const nextGroupSize = () => {
    if (!weigh) return Math.min(queue.length, maxBatch)
    let n = 0
    for (let w = 0; n < queue.length; n++) {
      w += weigh((queue[n] as Waiter<I, O>).item)
      if (w > maxBatch && n > 0) break
    }
    return n
  }

  const flush = () => {
    while (inFlight < concurrency && queue.length > 0) {
      const size = nextGroupSize()
      const group = size === queue.length ? queue : queue.slice(0, size)
      queue = size === queue.length ? [] : queue.slice(size)
      if (weigh) for (const w of group) queuedWeight -= weigh(w.item)
      inFlight++
      opts.onGroup?.(group.length)
      runGroup(group).finally(() => {
        inFlight--
        flush()
        settleIdle()
      })
    }
  }

  const runGroup = async (group: Waiter<I, O>[]) => {
    try {
      const out = await opts.run(group.map((w) => w.item))
      if (out.length !== group.length)
        throw new Error(`group run returned ${out.length} outcomes for ${group.length} items`)
      for (const [i, w] of group.entries()) w.resolve(out[i] as O)
    } catch (err) {
      for (const w of group) w.reject(err)
    }
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        queuedWeight += weigh ? weigh(item) : 1
        // Defer past this poll phase so requests parsed in the same event-loop turn share a group.
        if ((weigh ? queuedWeight : queue.length) >= maxBatch) flush()
        else if (!scheduled) {
          scheduled = true
          setImmediate(() => {
            scheduled = false
            flush()
          })
        }
      })
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve()
      return new Promise((r) => idle.push(r))
    },
    get pending() {
      return queue.length + inFlight
    },
  }
}
