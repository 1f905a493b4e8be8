/**
 * Carrier ids this process has just received from a carrier and is recording (the submitted
 * mark's group commit). A receipt for one of them waits for that commit in memory and then
 * matches at once, instead of matching nothing, being parked in PostgreSQL and matched again
 * (an insert, a delete and two more queries). A receipt that arrives on another process, or
 * before the id is known here, still takes the parked path.
 */
export interface PendingRefs {
  /** `recorded` settles when the ids are committed (or their commit failed). */
  track(carrier: string, carrierIds: string[], recorded: Promise<unknown>): void
  /** Settles once the id is recorded, if it is being recorded here; undefined otherwise. */
  settled(carrier: string, carrierId: string): Promise<void> | undefined
}

export function createPendingRefs(): PendingRefs {
  const pending = new Map<string, Promise<void>>()
  const key = (carrier: string, id: string) => `${carrier}\u0000${id}`
  return {
    track(carrier, carrierIds, recorded) {
      const keys = carrierIds.map((id) => key(carrier, id))
      const done = recorded.then(
        () => {},
        () => {},
      )
      for (const k of keys) pending.set(k, done)
      void done.then(() => {
        for (const k of keys) if (pending.get(k) === done) pending.delete(k)
      })
    },
    settled: (carrier, carrierId) => pending.get(key(carrier, carrierId)),
  }
}
