// The single call site of the reconciliation module (src/reconcile/reconcile.ts, issue 4 item 2).
// Loaded dynamically: until that module exists the run reports reconciliation as not available
// instead of failing to start.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createPostgresDb } from '../../src/db/postgres.ts'

export interface ReconcileCheck {
  name: string
  ok: boolean
  found: number
  detail: string
  samples: unknown[]
}

export type Reconciliation =
  | { ran: true; ok: boolean; checks: ReconcileCheck[] }
  | { ran: false; reason: string }

type ReconcileModule = {
  reconcile(opts: { db: unknown; settled?: boolean }): Promise<{ ok: boolean; checks: ReconcileCheck[] }>
}

const MODULE_URL = new URL('../../src/reconcile/reconcile.ts', import.meta.url)

export async function reconcileRun(dbUrl: string, settled: boolean): Promise<Reconciliation> {
  if (!existsSync(fileURLToPath(MODULE_URL))) {
    return { ran: false, reason: 'src/reconcile/reconcile.ts does not exist yet' }
  }
  const mod = (await import(MODULE_URL.href)) as ReconcileModule
  if (typeof mod.reconcile !== 'function') {
    return { ran: false, reason: 'src/reconcile/reconcile.ts does not export reconcile()' }
  }
  const db = createPostgresDb({ url: dbUrl, poolSize: 2, applicationName: 'smsgw-bench-sim' })
  try {
    const report = await mod.reconcile({ db, settled })
    return { ran: true, ok: report.ok, checks: report.checks }
  } finally {
    await db.close()
  }
}
